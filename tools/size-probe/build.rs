//! Links the probe as a bare image rooted at `probe_main`, so the linker's garbage
//! collection keeps exactly the code reachable from a typical use.
fn main() {
    println!("cargo:rustc-link-arg-bins=--entry=probe_main");
    println!("cargo:rerun-if-changed=build.rs");
}
