//! C ABI for sealwire (placeholder, being written).
