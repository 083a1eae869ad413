/* schedule.c: being written */
