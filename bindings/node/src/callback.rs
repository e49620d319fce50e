//! Calling JavaScript functions from Rust, synchronously on the JavaScript thread: shared by
//! the envelope's key providers (`envelope.rs`) and the session stores written in JavaScript
//! (`js_store.rs`).

use napi::bindgen_prelude::{FromNapiValue, JsObjectValue, JsValue, Object, Unknown};
use napi::{Env, ValueType};

/// Why a JavaScript call did not return: it threw this value, or napi failed.
pub(crate) enum Thrown<'a> {
    Value(Unknown<'a>),
    Status,
}

/// `f.call(this, ...args)`. A thrown value is taken out of the pending exception (so it
/// cannot take over the error this binding throws) and returned as is, whatever its type
/// (napi-rs's own conversion cannot keep thrown primitives).
pub(crate) fn call_function<'a>(
    env: Env,
    f: napi::sys::napi_value,
    this: napi::sys::napi_value,
    args: &[napi::sys::napi_value],
) -> std::result::Result<Unknown<'a>, Thrown<'a>> {
    let raw = env.raw();
    let mut ret = std::ptr::null_mut();
    // SAFETY: `raw` is the current environment, `f`, `this` and `args` are live handles of
    // it, and `ret` is a valid out-pointer.
    let status =
        unsafe { napi::sys::napi_call_function(raw, this, f, args.len(), args.as_ptr(), &mut ret) };
    if status == napi::sys::Status::napi_ok {
        // SAFETY: napi returned a value handle of this environment.
        return Ok(unsafe { Unknown::from_raw_unchecked(raw, ret) });
    }
    let mut pending = false;
    // SAFETY: plain status queries on the current environment with valid out-pointers.
    if unsafe { napi::sys::napi_is_exception_pending(raw, &mut pending) }
        == napi::sys::Status::napi_ok
        && pending
    {
        let mut exception = std::ptr::null_mut();
        if unsafe { napi::sys::napi_get_and_clear_last_exception(raw, &mut exception) }
            == napi::sys::Status::napi_ok
        {
            // SAFETY: napi returned a value handle of this environment.
            return Err(Thrown::Value(unsafe {
                Unknown::from_raw_unchecked(raw, exception)
            }));
        }
    }
    Err(Thrown::Status)
}

/// Take the pending JavaScript exception, if any (a getter or a Proxy trap that threw while
/// this binding read a property), so that it cannot take over the error the binding raises.
pub(crate) fn take_exception<'a>(env: Env) -> Option<Unknown<'a>> {
    let raw = env.raw();
    let mut pending = false;
    // SAFETY: status queries on the current environment with valid out-pointers.
    if unsafe { napi::sys::napi_is_exception_pending(raw, &mut pending) }
        != napi::sys::Status::napi_ok
        || !pending
    {
        return None;
    }
    let mut exception = std::ptr::null_mut();
    if unsafe { napi::sys::napi_get_and_clear_last_exception(raw, &mut exception) }
        != napi::sys::Status::napi_ok
    {
        return None;
    }
    // SAFETY: napi returned a value handle of this environment.
    Some(unsafe { Unknown::from_raw_unchecked(raw, exception) })
}

/// A string property of a thrown JS value, if it is an object with that property as a string.
fn string_property(value: &Unknown<'_>, name: &str) -> Option<String> {
    if value.get_type().ok()? != ValueType::Object {
        return None;
    }
    let env = Env::from_raw(value.value().env);
    // SAFETY: `value` is a live object handle of its environment.
    let obj: Object<'_> =
        unsafe { Object::from_napi_value(value.value().env, value.raw()) }.ok()?;
    let v: Unknown<'_> = match obj.get_named_property(name) {
        Ok(v) => v,
        Err(_) => {
            // A throwing getter: forget what it threw.
            take_exception(env);
            return None;
        }
    };
    if v.get_type().ok()? != ValueType::String {
        return None;
    }
    // SAFETY: `v` is a live string handle of the same environment.
    unsafe { String::from_napi_value(value.value().env, v.raw()) }.ok()
}

/// The `code` property of a thrown JS value, if it is an object with a string `code`.
pub(crate) fn thrown_code(value: &Unknown<'_>) -> Option<String> {
    string_property(value, "code")
}

/// Most characters of a thrown error's message repeated in the error this binding raises.
const MAX_MESSAGE_CHARS: usize = 500;

/// A short description of a thrown JS value for an error message: its `message` if it is an
/// object with a string `message`, the string itself if a string was thrown; at most 500
/// characters. (Only what the application's own code threw: never key material.)
pub(crate) fn thrown_message(value: &Unknown<'_>) -> String {
    let text = match value.get_type() {
        Ok(ValueType::String) => {
            // SAFETY: `value` is a live string handle of its environment.
            unsafe { String::from_napi_value(value.value().env, value.raw()) }.ok()
        }
        _ => string_property(value, "message"),
    };
    match text {
        Some(t) if t.chars().count() > MAX_MESSAGE_CHARS => {
            let mut s: String = t.chars().take(MAX_MESSAGE_CHARS).collect();
            s.push('…');
            s
        }
        Some(t) => t,
        None => "a value that is not an Error was thrown".to_owned(),
    }
}
