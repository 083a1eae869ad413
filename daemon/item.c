/* item.c: being written */
