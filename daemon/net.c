/* net.c: being written */
