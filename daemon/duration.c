/* duration.c: being written */
