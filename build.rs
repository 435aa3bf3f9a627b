//! Builds the FreeRTOS kernel and the C shim for the target's port, and generates the Rust
//! bindings to them. The Rust target chooses the port (see [`Port::for_target`]) and the
//! `board` cfg the device library is compiled with (see `src/board/mod.rs`): this file and
//! that module are the only places where a target is chosen.
//!
//! Kernel source tree, first match wins:
//! 1. `FREERTOS_KERNEL_PATH` (environment variable);
//! 2. `FreeRTOS-Kernel/` in this directory (a git submodule, if the user adds one);
//! 3. the tree shipped by the `freertos-next` crate (`DEP_FREERTOS_KERNEL`).
//!
//! Other knobs: `FREERTOS_HEAP_SIZE` (bytes of heap_4, default 512 KiB).
//!
//! With the cargo feature `freertos-plus-tcp`, FreeRTOS+TCP is compiled in as well (see
//! [`PlusTcp`]), from `FREERTOS_PLUS_TCP_PATH` or the `FreeRTOS-Plus-TCP/` submodule. Without
//! the feature its sources are never looked at.
//!
//! Bindings are generated with bindgen at build time, not kept by hand: the kernel's
//! types change width per port (`TickType_t` is 64-bit on the POSIX port, 32-bit on
//! Cortex-M), and a hand-written block would silently go wrong on the next port. It costs
//! a few seconds once per clean build.

use std::env;
use std::path::{Path, PathBuf};

/// Heap size used when `FREERTOS_HEAP_SIZE` is not set.
const DEFAULT_HEAP_SIZE: usize = 512 * 1024;

/// The kernel ports this build knows about, chosen by the Rust target (one place: here).
enum Port {
    /// The POSIX simulator (Linux, macOS): each task is a pthread.
    Posix,
    /// ARM Cortex-M4F with its FPU (GCC/ARM_CM4F): QEMU's mps2-an386 board.
    ArmCm4f,
    /// The Windows simulator (MSVC-MingW): each task is a Windows thread, and one more thread
    /// runs the tick and the simulated interrupts. Tested with `x86_64-pc-windows-gnu` (mingw
    /// gcc) under wine; `*-windows-msvc` selects the same port, untested.
    Windows,
}

impl Port {
    /// Chooses the port for a Rust target triple, or explains why there is none yet.
    fn for_target(target: &str) -> Result<Port, String> {
        let supported_later = |what: &str| {
            Err(format!(
                "target `{target}`: the {what} port is planned but not supported yet. \
                 Supported today: the POSIX simulator on Linux and macOS hosts \
                 (x86_64/aarch64-unknown-linux-gnu, *-apple-darwin), the Windows simulator \
                 (x86_64-pc-windows-gnu), and QEMU's mps2-an386 (Cortex-M4F) for \
                 thumbv7em-none-eabihf."
            ))
        };
        if target.contains("-linux-") || target.contains("-apple-darwin") {
            Ok(Port::Posix)
        } else if target.contains("-windows-") {
            Ok(Port::Windows)
        } else if target.starts_with("thumbv7m-") {
            supported_later("ARM Cortex-M3 (GCC/ARM_CM3)")
        } else if target == "thumbv7em-none-eabihf" {
            Ok(Port::ArmCm4f)
        } else if target.starts_with("thumbv7em-") {
            supported_later(
                "ARM Cortex-M4 without hardware floating point (use thumbv7em-none-eabihf)",
            )
        } else {
            Err(format!(
                "target `{target}` has no FreeRTOS port in this build. Supported: the \
                 POSIX simulator on Linux and macOS hosts, the Windows simulator \
                 (x86_64-pc-windows-gnu), and thumbv7em-none-eabihf."
            ))
        }
    }

    /// Port sources, relative to the kernel tree.
    fn sources(&self) -> &'static [&'static str] {
        match self {
            Port::Posix => &[
                "portable/ThirdParty/GCC/Posix/port.c",
                "portable/ThirdParty/GCC/Posix/utils/wait_for_event.c",
            ],
            Port::ArmCm4f => &["portable/GCC/ARM_CM4F/port.c"],
            Port::Windows => &["portable/MSVC-MingW/port.c"],
        }
    }

    /// Port include directories, relative to the kernel tree.
    fn include_dirs(&self) -> &'static [&'static str] {
        match self {
            Port::Posix => &[
                "portable/ThirdParty/GCC/Posix",
                "portable/ThirdParty/GCC/Posix/utils",
            ],
            Port::ArmCm4f => &["portable/GCC/ARM_CM4F"],
            Port::Windows => &["portable/MSVC-MingW"],
        }
    }

    /// Shim sources specific to the port.
    fn shim_sources(&self) -> &'static [&'static str] {
        match self {
            Port::Posix => &["c_shim/posix_port.c"],
            Port::ArmCm4f => &["c_shim/isr_interrupt.c"],
            Port::Windows => &["c_shim/windows_port.c"],
        }
    }

    /// The macro FreeRTOSConfig.h uses to pick per-port values.
    fn config_define(&self) -> &'static str {
        match self {
            Port::Posix => "FREERTOS_HTTPS_PORT_POSIX",
            Port::ArmCm4f => "FREERTOS_HTTPS_PORT_ARM_CM4F",
            Port::Windows => "FREERTOS_HTTPS_PORT_WINDOWS",
        }
    }

    /// The `board` cfg the Rust code is compiled with (see `src/board/mod.rs`).
    fn board_cfg(&self) -> &'static str {
        match self {
            Port::Posix => "posix",
            Port::ArmCm4f => "mps2_an386",
            Port::Windows => "windows",
        }
    }

    /// Whether the target has no operating system: its C headers come from the cross
    /// compiler's newlib, which bindgen's clang must be shown.
    fn is_bare_metal(&self) -> bool {
        matches!(self, Port::ArmCm4f)
    }
}

/// Every `board` value the Rust code may be compiled with.
const BOARD_CFGS: &[&str] = &["posix", "windows", "mps2_an386"];

/// The build-time settings whose files the Cortex-M image embeds, and the variable through
/// which each resolved path reaches `include_bytes!` (`src/board/mps2_an386/app.rs`).
const EMBEDDED_CREDENTIALS: &[(&str, &str)] = &[
    ("IOT_ROOT_CA", "FREERTOS_HTTPS_ROOT_CA_FILE"),
    ("IOT_CLIENT_CERT", "FREERTOS_HTTPS_CLIENT_CERT_FILE"),
    ("IOT_CLIENT_KEY", "FREERTOS_HTTPS_CLIENT_KEY_FILE"),
];

/// The FreeRTOS+TCP release the backend is written and tested against (the submodule's pin).
const PLUS_TCP_RELEASE: &str = "V4.4.1";
const PLUS_TCP_COMMIT: &str = "c12361095aca68aeed858f45d14395fbffa92c0d";

/// FreeRTOS+TCP, when the `freertos-plus-tcp` feature is on: where its tree is, and what of it
/// is compiled.
///
/// * Every `source/FreeRTOS_*.c` (the IPv6, RA and ND files compile to nothing with
///   `ipconfigUSE_IPv6 0`).
/// * Its GCC compiler port (`source/portable/Compiler/GCC`: the packed-struct macros).
/// * BufferAllocation_2: each frame's buffer is taken from the FreeRTOS heap when a frame
///   needs one, sized to that frame, and given back when the frame is done. Only the
///   descriptors are static. BufferAllocation_1 would instead need a fixed pool of
///   `ipconfigNUM_NETWORK_BUFFER_DESCRIPTORS` full-size buffers (16 x 1.5 KiB here, reserved for
///   good and invisible to the heap report); with _2 the heap report shows what frames really
///   cost, and an idle device holds none.
/// * `c_shim/plus_tcp/FreeRTOSIPConfig.h` (this application's configuration, with its sizing)
///   and `c_shim/plus_tcp/plus_tcp_shim.c`.
///
/// No network interface or driver of upstream's is compiled: the interface is Rust
/// (`src/net/freertos_plus_tcp/interface.rs`), over the project's link cards.
struct PlusTcp {
    tree: PathBuf,
}

impl PlusTcp {
    /// The tree, if the feature is on. An explicit `FREERTOS_PLUS_TCP_PATH` that is wrong, or
    /// no sources at all, is an error with the commands that fix it: never a silent fallback.
    fn locate(manifest_dir: &Path, port: &Port) -> Result<Option<PlusTcp>, String> {
        if env::var_os("CARGO_FEATURE_FREERTOS_PLUS_TCP").is_none() {
            return Ok(None);
        }
        if !matches!(port, Port::Posix | Port::ArmCm4f) {
            return Err(
                "the `freertos-plus-tcp` feature is supported on the POSIX simulator and the \
                 Cortex-M4F board for now; build this target without it (smoltcp)"
                    .to_owned(),
            );
        }
        let is_tree = |path: &Path| path.join("source/FreeRTOS_IP.c").is_file();
        if let Some(path) = env::var_os("FREERTOS_PLUS_TCP_PATH").map(PathBuf::from) {
            if is_tree(&path) {
                return Ok(Some(PlusTcp { tree: path }));
            }
            return Err(format!(
                "FREERTOS_PLUS_TCP_PATH={} is not a FreeRTOS-Plus-TCP tree (no \
                 source/FreeRTOS_IP.c there). Get one with:\n    git clone \
                 https://github.com/FreeRTOS/FreeRTOS-Plus-TCP.git {} && git -C {} checkout \
                 {PLUS_TCP_RELEASE}",
                path.display(),
                path.display(),
                path.display()
            ));
        }
        let submodule = manifest_dir.join("FreeRTOS-Plus-TCP");
        if is_tree(&submodule) {
            return Ok(Some(PlusTcp { tree: submodule }));
        }
        Err(format!(
            "the `freertos-plus-tcp` feature needs the FreeRTOS+TCP sources ({PLUS_TCP_RELEASE}, \
             commit {PLUS_TCP_COMMIT}), and {} has none. Get them with one of:\n    \
             git submodule update --init FreeRTOS-Plus-TCP\n    \
             git clone https://github.com/FreeRTOS/FreeRTOS-Plus-TCP.git /some/dir && git -C \
             /some/dir checkout {PLUS_TCP_RELEASE} && export FREERTOS_PLUS_TCP_PATH=/some/dir\n\
             or build without the feature (the default smoltcp backend).",
            submodule.display()
        ))
    }

    fn include_dirs(&self, manifest_dir: &Path) -> Vec<PathBuf> {
        vec![
            manifest_dir.join("c_shim/plus_tcp"),
            self.tree.join("source/include"),
            self.tree.join("source/portable/Compiler/GCC"),
        ]
    }

    /// The C files to compile, in a stable order.
    fn sources(&self, manifest_dir: &Path) -> Result<Vec<PathBuf>, String> {
        let dir = self.tree.join("source");
        let entries = std::fs::read_dir(&dir)
            .map_err(|error| format!("cannot list {}: {error}", dir.display()))?;
        let mut sources: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension().is_some_and(|ext| ext == "c")
                    && path
                        .file_name()
                        .and_then(|name| name.to_str())
                        .is_some_and(|name| name.starts_with("FreeRTOS_"))
            })
            .collect();
        sources.sort();
        sources.push(
            self.tree
                .join("source/portable/BufferManagement/BufferAllocation_2.c"),
        );
        sources.push(manifest_dir.join("c_shim/plus_tcp/plus_tcp_shim.c"));
        Ok(sources)
    }
}

/// Portable kernel sources, relative to the kernel tree.
/// Event groups, stream buffers and software timers are not used, so their sources are not
/// compiled (they would cost flash on a board).
const KERNEL_SOURCES: &[&str] = &["tasks.c", "queue.c", "list.c", "portable/MemMang/heap_4.c"];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let target = env::var("TARGET").expect("set by cargo");

    let port = Port::for_target(&target).unwrap_or_else(|message| fail(&message));
    wrap_rsa_public_operation(&port);
    let kernel = locate_kernel(&manifest_dir).unwrap_or_else(|message| fail(&message));
    let heap_size = heap_size().unwrap_or_else(|message| fail(&message));

    let plus_tcp = PlusTcp::locate(&manifest_dir, &port).unwrap_or_else(|message| fail(&message));

    let mut include_dirs = include_dirs(&manifest_dir, &kernel, &port);
    if let Some(plus_tcp) = &plus_tcp {
        include_dirs.extend(plus_tcp.include_dirs(&manifest_dir));
    }
    let defines = defines(&port, heap_size, plus_tcp.is_some());
    compile_kernel_and_shim(
        &manifest_dir,
        &kernel,
        &port,
        plus_tcp.as_ref(),
        &include_dirs,
        &defines,
    );
    let system_include_dirs = if port.is_bare_metal() {
        cross_compiler_include_dirs().unwrap_or_else(|message| fail(&message))
    } else {
        Vec::new()
    };
    generate_bindings(
        &manifest_dir,
        &target,
        &include_dirs,
        &system_include_dirs,
        &defines,
    );
    if let Some(plus_tcp) = &plus_tcp {
        generate_plus_tcp_bindings(
            &manifest_dir,
            &target,
            &include_dirs,
            &system_include_dirs,
            &defines,
        );
        println!(
            "cargo:rerun-if-changed={}",
            plus_tcp.tree.join("source").display()
        );
    }

    println!(
        "cargo::rustc-check-cfg=cfg(board, values({}))",
        BOARD_CFGS
            .iter()
            .map(|board| format!("\"{board}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("cargo::rustc-cfg=board=\"{}\"", port.board_cfg());
    if matches!(port, Port::ArmCm4f) {
        link_board_image(&manifest_dir).unwrap_or_else(|message| fail(&message));
        embed_credentials(&manifest_dir).unwrap_or_else(|message| fail(&message));
    }

    for path in ["FreeRTOSConfig.h", "c_shim", "build.rs"] {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rerun-if-env-changed=FREERTOS_KERNEL_PATH");
    println!("cargo:rerun-if-env-changed=FREERTOS_HEAP_SIZE");
    println!("cargo:rerun-if-env-changed=FREERTOS_PLUS_TCP_PATH");
    println!(
        "cargo:rustc-env=FREERTOS_KERNEL_SOURCE={}",
        kernel.display()
    );
}

/// Mbed TLS's RSA public operation goes to the TLS layer's stack exponentiation
/// (src/tls/exp_mod_hook.rs): the linker sends Mbed TLS's calls of
/// `mbedtls_mpi_exp_mod_unsafe` to `__wrap_mbedtls_mpi_exp_mod_unsafe`. For this package's
/// binaries, tests and examples; crates/harness/build.rs does the same for its binaries.
fn wrap_rsa_public_operation(port: &Port) {
    let wrap = "--wrap=mbedtls_mpi_exp_mod_unsafe";
    if port.is_bare_metal() {
        // rust-lld is the linker itself there.
        println!("cargo:rustc-link-arg={wrap}");
    } else {
        // A C compiler drives the link on the simulators.
        println!("cargo:rustc-link-arg=-Wl,{wrap}");
    }
}

/// The Cortex-M image's link: cortex-m-rt's `link.x` with the board's `memory.x`, and the C
/// library Mbed TLS needs (newlib-nano and nosys, built for the target's FPU ABI). libgcc is not
/// needed: Rust's compiler_builtins has the run-time helpers, and libgcc's would pull in its
/// unwinder. Only the binaries and examples get the linker script; the library stays an
/// ordinary rlib.
fn link_board_image(manifest_dir: &Path) -> Result<(), String> {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let memory = manifest_dir.join("src/board/mps2_an386/memory.x");
    std::fs::copy(&memory, out_dir.join("memory.x"))
        .map_err(|error| format!("cannot copy {}: {error}", memory.display()))?;
    println!("cargo:rerun-if-changed={}", memory.display());
    println!("cargo:rustc-link-search=native={}", out_dir.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rustc-link-arg-examples=-Tlink.x");
    for library in ["libc_nano.a", "libnosys.a"] {
        let path = cross_compiler_file(library)?;
        let dir = path.parent().expect("a file has a directory");
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    for library in ["c_nano", "nosys"] {
        println!("cargo:rustc-link-lib=static={library}");
    }
    Ok(())
}

/// Where the cross compiler keeps `file` for the target's flags (its multilib directory).
fn cross_compiler_file(file: &str) -> Result<PathBuf, String> {
    let compiler = cc::Build::new().get_compiler();
    let output = compiler
        .to_command()
        .arg(format!("-print-file-name={file}"))
        .output()
        .map_err(|error| {
            format!(
                "cannot run {}: {error} (apt-get install gcc-arm-none-eabi \
                 libnewlib-arm-none-eabi)",
                compiler.path().display()
            )
        })?;
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if path.is_absolute() && path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} does not have {file} for this target (apt-get install libnewlib-arm-none-eabi)",
            compiler.path().display()
        ))
    }
}

/// Resolves the credential files named by `IOT_ROOT_CA`, `IOT_CLIENT_CERT` and
/// `IOT_CLIENT_KEY` (absolute, or relative to the package directory) for `include_bytes!`.
/// An unset variable embeds an empty file: the demo then stops with a configuration error.
/// A PEM file is embedded with a NUL byte appended (a copy in `OUT_DIR`): Mbed TLS parses
/// PEM only NUL-terminated, and so the image parses its credentials where they are in flash,
/// with no copy on the heap.
fn embed_credentials(manifest_dir: &Path) -> Result<(), String> {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let empty = out_dir.join("no-credential");
    std::fs::write(&empty, b"")
        .map_err(|error| format!("cannot write {}: {error}", empty.display()))?;
    for (variable, embedded) in EMBEDDED_CREDENTIALS {
        println!("cargo:rerun-if-env-changed={variable}");
        let path = match env::var_os(variable) {
            None => empty.clone(),
            Some(value) => {
                let path = manifest_dir.join(PathBuf::from(value));
                if !path.is_file() {
                    return Err(format!(
                        "{variable}={} is not a file (paths are relative to {})",
                        path.display(),
                        manifest_dir.display()
                    ));
                }
                println!("cargo:rerun-if-changed={}", path.display());
                nul_terminated_if_pem(&path, &out_dir.join(embedded))?
            }
        };
        println!("cargo:rustc-env={embedded}={}", path.display());
    }
    Ok(())
}

/// `path` itself, or, for PEM text without a final NUL byte, a copy at `copy` with one.
fn nul_terminated_if_pem(path: &Path, copy: &Path) -> Result<PathBuf, String> {
    let bytes =
        std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let is_pem = bytes.windows(10).any(|window| window == b"-----BEGIN");
    if !is_pem || bytes.last() == Some(&0) {
        return Ok(path.to_path_buf());
    }
    let mut terminated = bytes;
    terminated.push(0);
    std::fs::write(copy, &terminated)
        .map_err(|error| format!("cannot write {}: {error}", copy.display()))?;
    Ok(copy.to_path_buf())
}

/// Stops the build with a message cargo shows as an error.
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    println!("cargo:warning={message}");
    std::process::exit(1);
}

fn locate_kernel(manifest_dir: &Path) -> Result<PathBuf, String> {
    let candidates = [
        (
            "FREERTOS_KERNEL_PATH",
            env::var_os("FREERTOS_KERNEL_PATH").map(PathBuf::from),
        ),
        (
            "the FreeRTOS-Kernel/ directory",
            Some(manifest_dir.join("FreeRTOS-Kernel")),
        ),
        (
            "the freertos-next crate",
            env::var_os("DEP_FREERTOS_KERNEL").map(PathBuf::from),
        ),
    ];
    for (origin, path) in candidates {
        let Some(path) = path else { continue };
        if path.join("tasks.c").is_file() {
            return Ok(path);
        }
        // An explicit override that is wrong is an error, not something to skip.
        if origin == "FREERTOS_KERNEL_PATH" {
            return Err(format!(
                "FREERTOS_KERNEL_PATH={} is not a FreeRTOS-Kernel tree (no tasks.c there)",
                path.display()
            ));
        }
    }
    Err(
        "no FreeRTOS kernel sources: set FREERTOS_KERNEL_PATH, add a FreeRTOS-Kernel/ \
         submodule, or keep the freertos-next dependency"
            .to_owned(),
    )
}

fn heap_size() -> Result<usize, String> {
    match env::var("FREERTOS_HEAP_SIZE") {
        Err(_) => Ok(DEFAULT_HEAP_SIZE),
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(size) if size >= 16 * 1024 => Ok(size),
            _ => Err(format!(
                "FREERTOS_HEAP_SIZE={text:?} is not a heap size in bytes of at least 16384"
            )),
        },
    }
}

fn include_dirs(manifest_dir: &Path, kernel: &Path, port: &Port) -> Vec<PathBuf> {
    let mut dirs = vec![
        manifest_dir.to_path_buf(),
        manifest_dir.join("c_shim"),
        kernel.join("include"),
    ];
    dirs.extend(port.include_dirs().iter().map(|dir| kernel.join(dir)));
    dirs
}

/// The preprocessor definitions, given to the C compiler and to bindgen alike (one list, so
/// the bindings always describe the kernel that is compiled).
fn defines(port: &Port, heap_size: usize, plus_tcp: bool) -> Vec<(String, Option<String>)> {
    let mut defines = vec![
        (port.config_define().to_owned(), None),
        (
            "configTOTAL_HEAP_SIZE".to_owned(),
            Some(heap_size.to_string()),
        ),
    ];
    if matches!(port, Port::Posix) {
        defines.push(("_GNU_SOURCE".to_owned(), None));
    }
    if plus_tcp {
        // FreeRTOSConfig.h turns on what FreeRTOS+TCP needs of the kernel.
        defines.push(("FREERTOS_HTTPS_PLUS_TCP".to_owned(), None));
    }
    defines
}

/// The cross compiler's own include directories (newlib's headers), which clang does not know.
fn cross_compiler_include_dirs() -> Result<Vec<PathBuf>, String> {
    let compiler = cc::Build::new().get_compiler();
    let output = std::process::Command::new(compiler.path())
        .args(["-xc", "-E", "-v", "-"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| {
            format!(
                "cannot run the cross compiler {}: {error} (on Debian/Ubuntu: apt-get install \
                 gcc-arm-none-eabi libnewlib-arm-none-eabi)",
                compiler.path().display()
            )
        })?;
    let text = String::from_utf8_lossy(&output.stderr);
    let dirs: Vec<PathBuf> = text
        .lines()
        .skip_while(|line| !line.starts_with("#include <...>"))
        .skip(1)
        .take_while(|line| !line.starts_with("End of search list"))
        .map(|line| PathBuf::from(line.trim()))
        .collect();
    if dirs.is_empty() {
        return Err(format!(
            "{} listed no include directories",
            compiler.path().display()
        ));
    }
    Ok(dirs)
}

fn compile_kernel_and_shim(
    manifest_dir: &Path,
    kernel: &Path,
    port: &Port,
    plus_tcp: Option<&PlusTcp>,
    include_dirs: &[PathBuf],
    defines: &[(String, Option<String>)],
) {
    let mut build = cc::Build::new();
    build
        .includes(include_dirs)
        .flag_if_supported("-fno-strict-aliasing")
        // The kernel's own code is not ours to lint.
        .warnings(false);
    for (name, value) in defines {
        build.define(name, value.as_deref());
    }
    for source in KERNEL_SOURCES.iter().chain(port.sources()) {
        build.file(kernel.join(source));
    }
    build.file(manifest_dir.join("c_shim/freertos_shim.c"));
    for source in port.shim_sources() {
        build.file(manifest_dir.join(source));
    }
    if let Some(plus_tcp) = plus_tcp {
        // FreeRTOS+TCP's sockets wait on event groups.
        build.file(kernel.join("event_groups.c"));
        let sources = plus_tcp
            .sources(manifest_dir)
            .unwrap_or_else(|message| fail(&message));
        build.files(sources);
    }
    build.compile("freertos_kernel");

    match port {
        Port::Posix => println!("cargo:rustc-link-lib=pthread"),
        // The port's tick timer resolution (timeBeginPeriod).
        Port::Windows => println!("cargo:rustc-link-lib=winmm"),
        Port::ArmCm4f => {}
    }
}

/// A bindgen run over `header` as the C code is compiled: for the real target (so that type
/// widths such as `TickType_t` and `BaseType_t` are the target's), with the same defines and
/// include directories, `core` types, constants for enums, and no layout tests or comments.
fn bindings_builder(
    header: &Path,
    target: &str,
    include_dirs: &[PathBuf],
    system_include_dirs: &[PathBuf],
    defines: &[(String, Option<String>)],
) -> bindgen::Builder {
    let mut builder = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .clang_arg(format!("--target={target}"))
        .use_core()
        .layout_tests(false)
        .generate_comments(false)
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for (name, value) in defines {
        builder = builder.clang_arg(match value {
            Some(value) => format!("-D{name}={value}"),
            None => format!("-D{name}"),
        });
    }
    for dir in include_dirs {
        builder = builder.clang_arg(format!("-I{}", dir.display()));
    }
    for dir in system_include_dirs {
        builder = builder.clang_arg(format!("-isystem{}", dir.display()));
    }
    builder
}

fn generate_bindings(
    manifest_dir: &Path,
    target: &str,
    include_dirs: &[PathBuf],
    system_include_dirs: &[PathBuf],
    defines: &[(String, Option<String>)],
) {
    let mut builder = bindings_builder(
        &manifest_dir.join("c_shim/freertos_shim.h"),
        target,
        include_dirs,
        system_include_dirs,
        defines,
    );
    // Only what the Rust layer uses: keeps the bindings reviewable and the build quick.
    for function in [
        "xShim.*",
        "vShim.*",
        "ulShim.*",
        "uxShim.*",
        "pvShim.*",
        "vTaskStartScheduler",
        "vTaskEndScheduler",
        "vTaskDelay",
        "xTaskGetTickCount",
        "xTaskGetCurrentTaskHandle",
        "xTaskGetSchedulerState",
        "vTaskSuspendAll",
        "vTaskSetThreadLocalStoragePointer",
        "pvTaskGetThreadLocalStoragePointer",
        "xTaskResumeAll",
        "pcTaskGetName",
        "xQueueReceive",
        "vQueueDelete",
        "uxQueueMessagesWaiting",
        "pvPortMalloc",
        "vPortFree",
        "xPortGetFreeHeapSize",
        "xPortGetMinimumEverFreeHeapSize",
    ] {
        builder = builder.allowlist_function(function);
    }
    builder = builder
        .allowlist_type("ShimKernelConstants")
        .allowlist_type("StackType_t");
    builder = builder.allowlist_var("SHIM_.*");
    let bindings = builder
        .generate()
        .unwrap_or_else(|error| fail(&format!("bindgen failed on the FreeRTOS headers: {error}")));
    let out =
        PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("freertos_bindings.rs");
    bindings
        .write_to_file(&out)
        .unwrap_or_else(|error| fail(&format!("cannot write {}: {error}", out.display())));
}

/// Bindings to FreeRTOS+TCP (`plus_tcp_bindings.rs`): the sockets and IP APIs, and what the
/// network interface needs (buffers, events to the IP task, end-points, ARP).
fn generate_plus_tcp_bindings(
    manifest_dir: &Path,
    target: &str,
    include_dirs: &[PathBuf],
    system_include_dirs: &[PathBuf],
    defines: &[(String, Option<String>)],
) {
    let mut builder = bindings_builder(
        &manifest_dir.join("c_shim/plus_tcp/plus_tcp_shim.h"),
        target,
        include_dirs,
        system_include_dirs,
        defines,
    );
    for function in [
        "FreeRTOS_socket",
        "FreeRTOS_connect",
        "FreeRTOS_send",
        "FreeRTOS_recv",
        "FreeRTOS_shutdown",
        "FreeRTOS_closesocket",
        "FreeRTOS_setsockopt",
        "FreeRTOS_getaddrinfo",
        "FreeRTOS_freeaddrinfo",
        "FreeRTOS_IPInit_Multi",
        "FreeRTOS_FillEndPoint",
        "FreeRTOS_AddNetworkInterface",
        "FreeRTOS_GetEndPointConfiguration",
        "FreeRTOS_IsNetworkUp",
        "FreeRTOS_MatchingEndpoint",
        "FreeRTOS_OutputARPRequest",
        "FreeRTOS_FirstEndPoint",
        "eARPGetCacheEntry",
        "xSendEventStructToIPTask",
        "xIsCallingFromIPTask",
        "xTaskGetSchedulerState",
        "pxGetNetworkBufferWithDescriptor",
        "vReleaseNetworkBufferAndDescriptor",
        "xShimPlusTcp.*",
    ] {
        builder = builder.allowlist_function(function);
    }
    for item in [
        "NetworkInterface_t",
        "NetworkEndPoint_t",
        "NetworkBufferDescriptor_t",
        "IPStackEvent_t",
        "eIPCallbackEvent_t",
        "eIPEvent_t",
        "eDHCPCallbackPhase_t",
        "freertos_addrinfo",
        "freertos_sockaddr",
        "eResolutionLookupResult_t",
        "eIPTCPState_t",
        "WinProperties_t",
    ] {
        builder = builder.allowlist_type(item);
    }
    for var in [
        "FREERTOS_.*",
        "pdFREERTOS_ERRNO_.*",
        "ipconfig.*",
        "eNetwork.*",
        "eResolution.*",
        "eCLOSED",
        "eCONNECT_SYN",
        "eESTABLISHED",
        "eCLOSE_WAIT",
    ] {
        builder = builder.allowlist_var(var);
    }
    let bindings = builder.generate().unwrap_or_else(|error| {
        fail(&format!(
            "bindgen failed on the FreeRTOS+TCP headers: {error}"
        ))
    });
    let out =
        PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("plus_tcp_bindings.rs");
    bindings
        .write_to_file(&out)
        .unwrap_or_else(|error| fail(&format!("cannot write {}: {error}", out.display())));
}
