//! Rust types for every schema of the api's contract (`openapi.json`, which a test
//! keeps equal to what the api serves), written to `$OUT_DIR/api.rs` by typify.

use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=openapi.json");
    let text = std::fs::read_to_string("openapi.json").unwrap_or_else(|e| {
        panic!("openapi.json: {e} (sage-api openapi > crates/cli/openapi.json makes it)")
    });
    // The components become a JSON Schema document's definitions.
    let text = text.replace("#/components/schemas/", "#/definitions/");
    let document: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("openapi.json: {e}"));
    let root = serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": document["components"]["schemas"],
    });
    let schema: schemars::schema::RootSchema =
        serde_json::from_value(root).unwrap_or_else(|e| panic!("openapi.json's schemas: {e}"));
    let mut types = typify::TypeSpace::new(&typify::TypeSpaceSettings::default());
    types
        .add_root_schema(schema)
        .unwrap_or_else(|e| panic!("openapi.json's schemas do not become types: {e}"));
    let file = syn::parse2::<syn::File>(types.to_stream())
        .unwrap_or_else(|e| panic!("typify wrote no Rust: {e}"));
    #[allow(
        clippy::disallowed_methods,
        reason = "cargo hands a build script its output directory in OUT_DIR"
    )]
    let out = std::env::var("OUT_DIR").unwrap_or_else(|e| panic!("OUT_DIR: {e}"));
    std::fs::write(Path::new(&out).join("api.rs"), prettyplease::unparse(&file))
        .unwrap_or_else(|e| panic!("api.rs: {e}"));
}
