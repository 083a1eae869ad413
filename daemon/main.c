/* main.c: being written */
