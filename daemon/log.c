/* log.c: being written */
