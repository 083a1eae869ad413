/* alert.c: being written */
