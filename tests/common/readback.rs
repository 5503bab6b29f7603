//! Exported files read back by Python's readers (`tests/support/read_export.py`), never by our own code.

use std::process::Command;

use uuid::Uuid;

use super::scratch_dir;

/// Reads a file with the Python readers; `entity` names a lone CSV's entity.
pub fn read_back(bytes: &[u8], extension: &str, entity: &str) -> serde_json::Value {
    let path =
        scratch_dir(&format!("readback-{}", Uuid::new_v4().simple())).join(format!("export.{extension}"));
    std::fs::write(&path, bytes).unwrap();
    let output = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/read_export.py"
        ))
        .arg(&path)
        .arg(entity)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "the Python reader refused the file: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
