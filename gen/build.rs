//! Compiles every `.proto` under `../proto` with protox (pure Rust, no system protoc) and generates
//! tonic/prost code from the result. The descriptor set is written as protox encodes it, byte for
//! byte: re-encoding it through `prost_types` would drop the `google.api.http` extensions the
//! transcoder and the gateway read at start-up.

use std::path::{Path, PathBuf};

fn proto_files(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            proto_files(&path, found)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            found.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../proto");
    println!("cargo:rerun-if-changed={}", root.display());

    let mut files = Vec::new();
    proto_files(&root, &mut files)?;
    files.sort();

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(&files)?;
    let descriptor_path = PathBuf::from(std::env::var("OUT_DIR")?).join("wekeza_descriptor.bin");
    std::fs::write(&descriptor_path, compiler.encode_file_descriptor_set())?;

    tonic_prost_build::configure()
        .skip_protoc_run()
        .file_descriptor_set_path(&descriptor_path)
        .build_transport(true)
        .compile_protos(&files, &[root])?;
    Ok(())
}
