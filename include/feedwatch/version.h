/* feedwatch version macros, in the manner of libuv's uv/version.h. */
#ifndef FEEDWATCH_VERSION_H
#define FEEDWATCH_VERSION_H

#define FW_VERSION_MAJOR 0
#define FW_VERSION_MINOR 1
#define FW_VERSION_PATCH 0

#define FW_VERSION_STRINGIFY_(x) #x
#define FW_VERSION_STRINGIFY(x)  FW_VERSION_STRINGIFY_(x)
#define FW_VERSION_STRING                                                                          \
	FW_VERSION_STRINGIFY(FW_VERSION_MAJOR)                                                     \
	"." FW_VERSION_STRINGIFY(FW_VERSION_MINOR) "." FW_VERSION_STRINGIFY(FW_VERSION_PATCH)

#endif
