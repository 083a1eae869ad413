/* loop.c: being written */
