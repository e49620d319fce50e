//! docs/security-config.schema.json describes exactly the format `SecurityConfig` reads:
//! the same keys (both ways), the same enum values (both ways), the same defaults, and the same
//! strictness (no additional properties anywhere). The example files are validated against the
//! schema with a small validator for exactly the keywords the schema uses (an unknown keyword
//! fails the test rather than being ignored).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use sealwire::config::*;
use sealwire::hygiene::ScrubMode;
use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("docs/security-config.schema.json")).unwrap()).unwrap()
}

/// Leaf paths of a schema: every property whose type is not `object`, with its subschema.
fn schema_leaves(s: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    for (k, sub) in s["properties"].as_object().unwrap() {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        if sub["type"] == "object" {
            assert_eq!(sub["additionalProperties"], json!(false), "{path}: must refuse unknown keys");
            schema_leaves(sub, &path, out);
        } else {
            out.insert(path, sub.clone());
        }
    }
}

/// Leaf paths of a JSON document (objects recursed; arrays and scalars are leaves).
fn value_leaves(v: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    for (k, sub) in v.as_object().unwrap() {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        if sub.is_object() {
            value_leaves(sub, &path, out);
        } else {
            out.insert(path, sub.clone());
        }
    }
}

fn set_path(v: &mut Value, path: &str, new: Value) {
    let mut cur = v;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cur = cur.get_mut(*p).unwrap();
    }
    cur[parts[parts.len() - 1]] = new;
}

fn full_json() -> Value {
    let text = std::fs::read_to_string(root().join("tests/vectors/config/valid/full.toml")).unwrap();
    serde_json::from_str(&SecurityConfig::from_toml_str(&text).unwrap().to_json_string()).unwrap()
}

fn strs<T: Copy>(all: &[T], f: fn(T) -> &'static str) -> BTreeSet<String> {
    all.iter().map(|&x| f(x).to_owned()).collect()
}

#[test]
fn schema_keys_are_the_type_keys() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(s["additionalProperties"], json!(false));
    assert_eq!(s["required"], json!(["version"]));
    let mut from_schema = BTreeMap::new();
    schema_leaves(&s, "", &mut from_schema);
    // Serializing a configuration that sets every optional key writes every field of the
    // type; `deny_unknown_fields` makes every key it reads a field of the type.
    let mut from_type = BTreeMap::new();
    value_leaves(&full_json(), "", &mut from_type);
    let a: BTreeSet<&String> = from_schema.keys().collect();
    let b: BTreeSet<&String> = from_type.keys().collect();
    assert_eq!(a, b, "schema only: {:?}; type only: {:?}", a.difference(&b).collect::<Vec<_>>(), b.difference(&a).collect::<Vec<_>>());
    assert!(a.len() >= 45, "{}", a.len());
    // And every schema key parses as that key: set each to its default in an otherwise empty
    // document and parse (a key the type did not have would be `unknown-key`).
    for (path, sub) in &from_schema {
        let Some(default) = sub.get("default").or_else(|| sub.get("const")) else { continue };
        let mut doc = json!({"version": 1});
        let mut cur = &mut doc;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            cur = cur.as_object_mut().unwrap().entry(*p).or_insert(json!({}));
        }
        cur[parts[parts.len() - 1]] = default.clone();
        SecurityConfig::from_json_str(&doc.to_string()).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

#[test]
fn schema_defaults_are_the_type_defaults() {
    let mut from_schema = BTreeMap::new();
    schema_leaves(&schema(), "", &mut from_schema);
    let mut defaults = BTreeMap::new();
    value_leaves(&serde_json::from_str(&SecurityConfig::default().to_json_string()).unwrap(), "", &mut defaults);
    for (path, sub) in &from_schema {
        match (sub.get("default"), defaults.get(path)) {
            (Some(d), Some(t)) => {
                let same = d == t || (d.as_f64().is_some() && d.as_f64() == t.as_f64());
                assert!(same, "{path}: schema default {d}, type default {t}");
            }
            (None, None) => {}                                        // `uri`: absent by default
            (None, Some(t)) if path == "version" => assert_eq!(t, &json!(1)), // required, const 1
            (d, t) => panic!("{path}: schema default {d:?}, type default {t:?}"),
        }
    }
}

#[test]
fn schema_enums_are_the_type_enums() {
    let mut from_schema = BTreeMap::new();
    schema_leaves(&schema(), "", &mut from_schema);
    let table: BTreeMap<&str, BTreeSet<String>> = BTreeMap::from([
        ("post_quantum", strs(PostQuantum::ALL, PostQuantum::as_str)),
        ("identity.signature", strs(SignatureAlgorithm::ALL, SignatureAlgorithm::as_str)),
        ("identity.key_agreement", strs(KeyAgreementAlgorithm::ALL, KeyAgreementAlgorithm::as_str)),
        ("identity.storage", strs(IdentityStorage::ALL, IdentityStorage::as_str)),
        ("handshake.online", strs(HandshakePattern::ALL, HandshakePattern::as_str)),
        ("handshake.first_contact", strs(HandshakePattern::ALL, HandshakePattern::as_str)),
        ("handshake.offline", strs(OfflineAgreement::ALL, OfflineAgreement::as_str)),
        ("cipher.aead", strs(Aead::ALL, Aead::as_str)),
        ("cipher.kdf", strs(Kdf::ALL, Kdf::as_str)),
        ("cipher.nonce", strs(NonceStrategy::ALL, NonceStrategy::as_str)),
        ("storage.pattern", strs(StoragePattern::ALL, StoragePattern::as_str)),
        ("storage.session_store", strs(SessionStore::ALL, SessionStore::as_str)),
        ("storage.kek.provider", strs(KekProvider::ALL, KekProvider::as_str)),
        ("storage.kek.keyring_protection", strs(KeyringProtection::ALL, KeyringProtection::as_str)),
        ("metadata.mode", strs(ScrubMode::ALL, ScrubMode::as_str)),
    ]);
    let schema_enums: BTreeMap<&str, BTreeSet<String>> = from_schema
        .iter()
        .filter_map(|(p, s)| s.get("enum").map(|e| (p.as_str(), e.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect())))
        .collect();
    assert_eq!(schema_enums, table);
    // Which string keys are enums is decided by the type itself: a bogus value is refused as
    // `unknown-value` exactly at the keys the schema gives an enum.
    let full = full_json();
    let mut leaves = BTreeMap::new();
    value_leaves(&full, "", &mut leaves);
    for (path, v) in &leaves {
        if !v.is_string() {
            continue;
        }
        let mut doc = full.clone();
        set_path(&mut doc, path, json!("zz-not-a-value"));
        let r = SecurityConfig::check(&doc.to_string(), Format::Json);
        let refused_as_enum = r.findings().iter().any(|f| f.code == FindingCode::UnknownValue && f.path == *path);
        assert_eq!(refused_as_enum, table.contains_key(path.as_str()), "{path}: {:?}", r.findings());
        // And every schema value is accepted by the type.
        for ok in table.get(path.as_str()).into_iter().flatten() {
            set_path(&mut doc, path, json!(ok));
            SecurityConfig::from_json_str(&doc.to_string()).unwrap_or_else(|e| panic!("{path} = {ok}: {e}"));
        }
    }
    // Every overrides flag is in the schema, and nothing else is.
    let flags: BTreeSet<String> = from_schema.keys().filter_map(|k| k.strip_prefix("overrides.")).map(str::to_owned).collect();
    assert_eq!(flags, Overrides::NAMES.iter().map(|s| s.to_string()).collect());
}

/// Validate `v` against `s` (the keywords this schema uses; any other keyword panics).
fn validate(s: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    const ANNOTATIONS: &[&str] = &["$schema", "$id", "title", "description", "default"];
    for (k, rule) in s.as_object().unwrap() {
        match k.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "type" => {
                let ok = match rule.as_str().unwrap() {
                    "object" => v.is_object(),
                    "string" => v.is_string(),
                    "boolean" => v.is_boolean(),
                    "array" => v.is_array(),
                    "integer" => v.is_u64() || v.is_i64(),
                    "number" => v.is_number(),
                    t => panic!("type {t}"),
                };
                if !ok {
                    errors.push(format!("{path}: not {rule}"));
                    return;
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(v) {
                    errors.push(format!("{path}: {v} not in enum"));
                }
            }
            "const" => {
                if rule != v {
                    errors.push(format!("{path}: {v} is not {rule}"));
                }
            }
            "minimum" => {
                if v.as_f64().is_some_and(|x| x < rule.as_f64().unwrap()) {
                    errors.push(format!("{path}: {v} < {rule}"));
                }
            }
            "maximum" => {
                let over = match (v.as_u64(), rule.as_u64()) {
                    (Some(x), Some(m)) => x > m,
                    _ => v.as_f64().is_some_and(|x| x > rule.as_f64().unwrap()),
                };
                if over {
                    errors.push(format!("{path}: {v} > {rule}"));
                }
            }
            "minLength" => {
                if v.as_str().is_some_and(|x| (x.chars().count() as u64) < rule.as_u64().unwrap()) {
                    errors.push(format!("{path}: too short"));
                }
            }
            "required" => {
                for r in rule.as_array().unwrap() {
                    if v.get(r.as_str().unwrap()).is_none() {
                        errors.push(format!("{path}: missing {r}"));
                    }
                }
            }
            "properties" => {
                if let Some(obj) = v.as_object() {
                    for (pk, pv) in obj {
                        if let Some(sub) = rule.get(pk) {
                            validate(sub, pv, &format!("{path}.{pk}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(rule, &json!(false));
                if let Some(obj) = v.as_object() {
                    for pk in obj.keys() {
                        if s["properties"].get(pk).is_none() {
                            errors.push(format!("{path}: unknown {pk}"));
                        }
                    }
                }
            }
            "items" => {
                for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                    validate(rule, item, &format!("{path}[{i}]"), errors);
                }
            }
            other => panic!("schema keyword {other} not understood by this test"),
        }
    }
}

#[test]
fn example_files_agree_with_the_schema() {
    let s = schema();
    let dir = root().join("tests/vectors/config");
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let mut checked = 0;
    for case in manifest["cases"].as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        let Some(expected) = case["schema_valid"].as_bool() else { continue };
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let doc: Value = if file.ends_with(".json") {
            serde_json::from_str(&text).unwrap()
        } else {
            serde_json::to_value(toml::from_str::<toml::Value>(&text).unwrap()).unwrap()
        };
        let mut errors = Vec::new();
        validate(&s, &doc, "", &mut errors);
        assert_eq!(errors.is_empty(), expected, "{file}: {errors:?}");
        // What the schema refuses, the type refuses too (the schema is never looser).
        if !expected {
            assert!(!SecurityConfig::check(&text, Format::detect(Some(file), &text)).is_ok(), "{file}");
        }
        checked += 1;
    }
    assert!(checked >= 35, "{checked}");
    // The default, written out, is valid.
    let mut errors = Vec::new();
    validate(&s, &serde_json::from_str(&SecurityConfig::default().to_json_string()).unwrap(), "", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
}
