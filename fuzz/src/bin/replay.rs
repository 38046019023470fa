//! Replays a corpus through the fuzz check without libFuzzer (stable toolchain):
//! `cargo run --release --bin replay -- corpus/esl_decode [more dirs or files]`.

use std::path::Path;

fn visit(path: &Path, count: &mut usize) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            visit(&entry.path(), count)?;
        }
    } else {
        let data = std::fs::read(path)?;
        parkway_fuzz::check(&data);
        *count += 1;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let mut count = 0;
    for arg in std::env::args().skip(1) {
        visit(Path::new(&arg), &mut count)?;
    }
    println!("replayed {count} inputs: no panic, no stall, buffering within limits");
    Ok(())
}
