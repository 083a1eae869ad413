/* text.c: being written */
