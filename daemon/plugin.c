/* plugin.c: being written */
