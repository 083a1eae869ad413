/* fetch.c: being written */
