// The breaking changes tests/matrix.rs makes to `manifests/v1.toml`, each as version 2.0.0: a name (the
// module of its host skeleton), the text replaced and its replacement, the method a guest built against v1
// then calls, and what the `incompatible` error it gets must say. Included by build.rs and the tests.

/// `(name, from, to, method, expected)`.
pub const BREAKING: &[(&str, &str, &str, &str, &str)] = &[
    (
        "changed_type",
        "fields.count = \"i32\"",
        "fields.count = \"i64\"",
        "get",
        "field `count` of `Item` changed type: `i32` → `i64`",
    ),
    (
        "removed_field",
        "fields.count = \"i32\"\n",
        "",
        "get",
        "field `count` of `Item` (ordinal 1) was removed",
    ),
    (
        "reordered_fields",
        "fields.id = \"string\"\nfields.count = \"i32\"",
        "fields.count = \"i32\"\nfields.id = \"string\"",
        "get",
        "field `id` of `Item` moved from ordinal 0 to 1",
    ),
    (
        "list_for_scalar",
        "fields.count = \"i32\"",
        "fields.count = \"list<i32>\"",
        "get",
        "field `count` of `Item` changed type: `i32` → `list<i32>`",
    ),
    (
        "option_on_a_number",
        "fields.count = \"i32\"",
        "fields.count = \"option<i32>\"",
        "get",
        "field `count` of `Item` changed type: `i32` → `option<i32>`",
    ),
    (
        "removed_error",
        "errors = [\"NotFound\"]",
        "errors = []",
        "get",
        "named error `NotFound` of `get` was removed",
    ),
    (
        "removed_enum_value",
        "enum = [\"red\", \"green\"]",
        "enum = [\"red\"]",
        "paint",
        "value `green` of `Color` (ordinal 1) was removed",
    ),
    (
        "removed_variant",
        "union.dot = \"void\"\n",
        "",
        "paint",
        "variant `dot` of `Shape` (ordinal 2) was removed",
    ),
    (
        "opened_enum",
        "enum = [\"red\", \"green\"]",
        "enum = [\"red\", \"green\"]\nopen = true",
        "paint",
        "enum `Color` → open enum `Color`",
    ),
    (
        "removed_open_value",
        "enum = [\"active\", \"paused\"]",
        "enum = [\"active\"]",
        "paint",
        "value `paused` of open enum `Status` was removed",
    ),
    (
        "moved_method",
        "[methods.get]",
        "[methods.first]\ninput = { id = \"string\" }\noutput = { id = \"string\" }\n\n[methods.get]",
        "get",
        "method `get` moved from ordinal 0 to 1",
    ),
    (
        "removed_method",
        "[methods.label]\ninput = { name = \"string\" }\noutput = { name = \"string\" }\n",
        "",
        "label",
        "has no method `label`",
    ),
];
