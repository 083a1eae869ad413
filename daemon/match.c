/* match.c: being written */
