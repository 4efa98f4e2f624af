/* Build facts for `fastfib info`. setup.py defines both macros on the compiler
 * command line; these defaults only apply to a build that bypasses it. */
#ifndef FASTFIB_BUILD_INFO_H
#define FASTFIB_BUILD_INFO_H

#ifndef FASTFIB_CYTHON_VERSION
#define FASTFIB_CYTHON_VERSION "unknown"
#endif

#ifndef FASTFIB_CFLAGS
#define FASTFIB_CFLAGS "unknown"
#endif

#endif /* FASTFIB_BUILD_INFO_H */
