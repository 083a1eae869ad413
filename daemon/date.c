/* date.c: being written */
