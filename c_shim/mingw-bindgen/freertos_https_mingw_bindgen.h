/*
 * Read by bindgen only, when mbedtls-rs-sys generates its bindings for x86_64-pc-windows-gnu
 * (.cargo/config.toml: BINDGEN_EXTRA_CLANG_ARGS_x86_64_pc_windows_gnu="-include <this file>",
 * found through CPATH). Never compiled into anything.
 *
 * The crate's bindgen run allowlists `time_t` but not what mingw-w64 defines it as
 * (`__time64_t`), so the generated Rust names a type it never defines. Here mingw's own typedef
 * is renamed while <time.h> is read, and `time_t` is then declared directly as the 64-bit
 * integer that `__time64_t` is on x64 (same size and ABI, so the C built by gcc agrees), which
 * bindgen can write out with no further dependency. `va_list` is `char *` on Windows x64, said
 * the same way for any binding that takes one.
 */
#ifndef FREERTOS_HTTPS_MINGW_BINDGEN_H
#define FREERTOS_HTTPS_MINGW_BINDGEN_H

#define time_t freertos_https_mingw_time_t
#include <time.h>
#include <stdarg.h>
#undef time_t
typedef long long time_t;
#define va_list char *

#endif
