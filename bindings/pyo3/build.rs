//! Compiles csrc/fib.c and links it into the module, so that Rust calls the very C the
//! other kernels call. The idiomatic tool is the `cc` crate; crates.io cannot be reached
//! where fastfib is built offline (the vendored crates hold PyO3's dependencies only), so
//! this file does cc's job for the two compiler families there are: gcc/clang (CC, else
//! `cc`) and MSVC's cl.exe.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    // bindings/pyo3 -> the checkout's (or sdist's) csrc/; FASTFIB_CSRC overrides it.
    let csrc = env::var_os("FASTFIB_CSRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("..").join("..").join("csrc"));
    let source = csrc.join("fib.c");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let msvc = env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("msvc");
    let object = out.join(if msvc { "fib.obj" } else { "fib.o" });

    let mut compile = if msvc {
        let mut cl = Command::new("cl.exe");
        cl.args(["/nologo", "/O2", "/c"]).arg(format!("/Fo{}", object.display()));
        cl
    } else {
        let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
        let mut parts = cc.split_whitespace(); // CC may carry flags ("gcc -pthread")
        let mut gcc = Command::new(parts.next().unwrap_or("cc"));
        gcc.args(parts).args(["-O2", "-fPIC", "-c", "-o"]).arg(&object);
        gcc
    };
    compile.arg("-I").arg(&csrc).arg(&source);
    let status = compile.status().expect("cannot run the C compiler (set CC)");
    assert!(status.success(), "compiling {} failed", source.display());

    // An object file on the link line is always linked in, whole: no archive needed.
    println!("cargo:rustc-link-arg-cdylib={}", object.display());
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-changed={}", csrc.join("fib.h").display());
    println!("cargo:rerun-if-env-changed=FASTFIB_CSRC");
    println!("cargo:rerun-if-env-changed=CC");
}
