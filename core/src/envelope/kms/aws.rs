//! AWS KMS as a key provider (`"aws-kms"`): `GenerateDataKey`, `Encrypt`, `Decrypt` and
//! `ReEncrypt` over the KMS JSON API (`application/x-amz-json-1.1`), signed with SigV4 by the
//! `aws-sigv4` crate.
//!
//! * binding: every call passes a KMS `EncryptionContext` made of the envelope's own context
//!   pairs plus one entry [`AWS_BINDING_CONTEXT_KEY`] = lowercase hex of SHA-256(wrap AAD),
//!   so KMS refuses (`InvalidCiphertextException` → [`Error::ContextMismatch`]) a wrapped
//!   data key moved to another object or context, and the context shows in CloudTrail and
//!   can be used in key policies (`kms:EncryptionContext:…`).
//! * entry: key id = the key ARN KMS reports, version 0, wrapped bytes = the raw
//!   `CiphertextBlob`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::http::{check_endpoint, retry_status, HttpClient, HttpOptions, KmsStats, Reply, SendResult};
use super::retry::Attempt;
use super::{decode_data_key, encode_data_key, env_first};
use crate::envelope::commit::DataKey;
use crate::envelope::format::WrappedKey;
use crate::envelope::provider::{KeyProvider, WrapContext};
use crate::error::{Error, Result};

/// Provider name written into AWS KMS entries.
pub const AWS_KMS_PROVIDER: &str = "aws-kms";
/// The KMS `EncryptionContext` key that binds a wrapped data key to its envelope: its value is
/// the lowercase hex of SHA-256(wrap AAD). Reserved: an envelope context may not use it.
pub const AWS_BINDING_CONTEXT_KEY: &str = "sealwire:wrap";

/// AWS credentials (access key id, secret access key, optional session token). Held in
/// zeroizing storage; `Debug` shows none of them.
#[derive(Clone)]
pub struct AwsCredentials(Credentials);

impl core::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AwsCredentials(<redacted>)")
    }
}

impl AwsCredentials {
    /// Static credentials.
    pub fn new(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Self {
        Self(Credentials::new(access_key_id, secret_access_key, session_token.map(str::to_owned), None, "sealwire"))
    }

    /// From the standard variables `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (if set)
    /// `AWS_SESSION_TOKEN`. `InvalidParameter` if either key variable is missing.
    pub fn from_env() -> Result<Self> {
        let id = env_first(&["AWS_ACCESS_KEY_ID"]).ok_or(Error::InvalidParameter("AWS_ACCESS_KEY_ID is not set"))?;
        let secret = env_first(&["AWS_SECRET_ACCESS_KEY"]).ok_or(Error::InvalidParameter("AWS_SECRET_ACCESS_KEY is not set"))?;
        let token = env_first(&["AWS_SESSION_TOKEN"]);
        Ok(Self::new(&id, &secret, token.as_ref().map(|t| t.as_str())))
    }
}

/// Configuration of an [`AwsKms`] provider. `Debug` never shows the credentials.
#[derive(Debug, Clone)]
pub struct AwsKmsConfig {
    key_id: String,
    region: String,
    endpoint: Option<String>,
    credentials: AwsCredentials,
    generate_data_keys: bool,
    previous_key_ids: Vec<String>,
    http: HttpOptions,
}

impl AwsKmsConfig {
    /// A provider of the KMS key `key_id` (a key ARN is best; a key id or `alias/…` works for
    /// wrapping, see [`AwsKms::owns`](KeyProvider::owns)) in `region`, with `credentials`;
    /// endpoint `https://kms.{region}.amazonaws.com`, data keys from `GenerateDataKey`.
    pub fn new(key_id: &str, region: &str, credentials: AwsCredentials) -> Self {
        Self {
            key_id: key_id.to_owned(),
            region: region.to_owned(),
            endpoint: None,
            credentials,
            generate_data_keys: true,
            previous_key_ids: Vec::new(),
            http: HttpOptions::default(),
        }
    }

    /// From the environment: credentials as [`AwsCredentials::from_env`], region from
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`), endpoint from `AWS_ENDPOINT_URL_KMS` (or
    /// `AWS_ENDPOINT_URL`) if set.
    pub fn from_env(key_id: &str) -> Result<Self> {
        let region = env_first(&["AWS_REGION", "AWS_DEFAULT_REGION"])
            .ok_or(Error::InvalidParameter("AWS_REGION (or AWS_DEFAULT_REGION) is not set"))?;
        let mut c = Self::new(key_id, &region, AwsCredentials::from_env()?);
        if let Some(ep) = env_first(&["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]) {
            c.endpoint = Some(ep.to_string());
        }
        Ok(c)
    }

    /// Another endpoint (a VPC endpoint, FIPS endpoint, or a local KMS-compatible server).
    pub fn with_endpoint(mut self, url: &str) -> Self {
        self.endpoint = Some(url.to_owned());
        self
    }
    /// Timeouts, retries, TLS rules.
    pub fn with_http(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }
    /// When this provider is the first of a seal, let KMS generate the data key
    /// (`GenerateDataKey`, default) instead of the OS generator plus `Encrypt`.
    pub fn generate_data_keys(mut self, yes: bool) -> Self {
        self.generate_data_keys = yes;
        self
    }
    /// A key this provider also opens entries of (`Decrypt`) and moves them from with
    /// `ReEncrypt` to its own key on rewrap: for migrating objects between KMS keys.
    pub fn with_previous_key_id(mut self, key_id: &str) -> Self {
        self.previous_key_ids.push(key_id.to_owned());
        self
    }
}

/// An AWS KMS symmetric key as an envelope [`KeyProvider`]. `Send + Sync`.
pub struct AwsKms {
    key_id: String,
    previous_key_ids: Vec<String>,
    region: String,
    url: String,
    credentials: Credentials,
    generate: bool,
    /// The key ARN as KMS reported it (from the first response).
    arn: Mutex<Option<String>>,
    http: HttpClient,
}

impl core::fmt::Debug for AwsKms {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AwsKms")
            .field("key_id", &self.key_id)
            .field("region", &self.region)
            .field("url", &self.url)
            .field("credentials", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn key_id_ok(k: &str) -> bool {
    !k.is_empty() && k.len() <= 2048 && k.bytes().all(|b| b.is_ascii_graphic())
}

/// `configured` names the same key as `entry_key` (normally an ARN): equal, or the ARN ends
/// in `:key/{configured}` (a bare key id) or `:{configured}` (a `key/…` id).
fn same_key(configured: &str, entry_key: &str) -> bool {
    configured == entry_key
        || entry_key
            .strip_suffix(configured)
            .is_some_and(|head| head.ends_with(":key/") || (configured.starts_with("key/") && head.ends_with(':')))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KmsResp<'a> {
    #[serde(borrow, default)]
    plaintext: Option<&'a str>,
    #[serde(borrow, default)]
    ciphertext_blob: Option<&'a str>,
    #[serde(borrow, default)]
    key_id: Option<&'a str>,
}

#[derive(Deserialize)]
struct KmsErr<'a> {
    #[serde(rename = "__type", borrow, default)]
    kind: Option<&'a str>,
}

/// The error code of a KMS error answer: JSON `__type` (after any `…#`), or the `<Code>` of an
/// XML error document (what some front ends send for signature errors).
fn error_code(body: &[u8]) -> String {
    if let Ok(e) = serde_json::from_slice::<KmsErr<'_>>(body) {
        if let Some(k) = e.kind {
            return k.rsplit('#').next().unwrap_or(k).to_owned();
        }
    }
    let text = String::from_utf8_lossy(body);
    if let Some(start) = text.find("<Code>") {
        let rest = &text[start + 6..];
        if let Some(end) = rest.find("</Code>") {
            return rest[..end].to_owned();
        }
    }
    String::new()
}

/// Map a KMS error answer to a typed error (throttling and server errors are retried). The
/// server's message is never copied into the error.
fn kms_error<T>(reply: &Reply) -> Attempt<T> {
    let code = error_code(&reply.body);
    let e = match code.as_str() {
        "ThrottlingException" | "Throttling" | "ThrottledException" | "RequestLimitExceeded" | "TooManyRequestsException" => {
            return Attempt::Retry(Error::KmsThrottled)
        }
        "KMSInternalException" | "DependencyTimeoutException" | "InternalFailure" | "ServiceUnavailable"
        | "ServiceUnavailableException" | "KeyUnavailableException" => {
            return Attempt::Retry(Error::KmsUnavailable("KMS internal error until retries ran out"))
        }
        "NotFoundException" => Error::KmsKeyNotFound,
        "DisabledException" | "KMSInvalidStateException" => Error::KmsKeyDisabled,
        "InvalidCiphertextException" => Error::ContextMismatch,
        "IncorrectKeyException" => Error::HeaderAuthFailed,
        "AccessDeniedException" | "AccessDenied" => Error::KmsAuthFailed("access denied"),
        "UnrecognizedClientException" | "InvalidClientTokenId" => Error::KmsAuthFailed("unknown access key"),
        "InvalidSignatureException" | "SignatureDoesNotMatch" | "IncompleteSignature" => {
            Error::KmsAuthFailed("request signature rejected (wrong secret key?)")
        }
        "ExpiredTokenException" | "ExpiredToken" => Error::KmsAuthFailed("expired session token"),
        "MissingAuthenticationToken" | "MissingAuthenticationTokenException" => Error::KmsAuthFailed("missing credentials"),
        "ValidationException" | "InvalidKeyUsageException" => Error::ProviderFailed("KMS refused the request parameters"),
        _ => {
            if let Some(a) = retry_status(reply.status) {
                return a;
            }
            match reply.status {
                401 | 403 => Error::KmsAuthFailed("KMS refused the request"),
                404 => Error::KmsKeyNotFound,
                _ => Error::ProviderFailed("KMS rejected the request"),
            }
        }
    };
    Attempt::Done(Err(e))
}

impl AwsKms {
    /// A provider for one KMS key. Checks the configuration (region, URL, TLS rule, key id);
    /// makes no request.
    pub fn new(config: AwsKmsConfig) -> Result<Self> {
        if config.region.is_empty()
            || config.region.len() > 64
            || !config.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(Error::InvalidParameter("AWS region: lowercase letters, digits and '-'"));
        }
        if !key_id_ok(&config.key_id) || !config.previous_key_ids.iter().all(|k| key_id_ok(k)) {
            return Err(Error::InvalidParameter("KMS key id: 1-2048 printable ASCII characters"));
        }
        let endpoint = match &config.endpoint {
            Some(e) => e.clone(),
            None => format!("https://kms.{}.amazonaws.com", config.region),
        };
        let endpoint = check_endpoint(&endpoint, &config.http)?;
        Ok(Self {
            key_id: config.key_id,
            previous_key_ids: config.previous_key_ids,
            region: config.region,
            url: format!("{endpoint}/"),
            credentials: config.credentials.0,
            generate: config.generate_data_keys,
            arn: Mutex::new(None),
            http: HttpClient::new(&config.http),
        })
    }

    /// Request counters (every operation, HTTP exchange, retry and failure so far).
    pub fn stats(&self) -> KmsStats {
        self.http.stats()
    }

    /// The configured key id.
    pub fn configured_key_id(&self) -> &str {
        &self.key_id
    }

    /// The key's ARN, as `DescribeKey` reports it (remembered, so entries naming the ARN are
    /// recognised even if the provider was configured with a key id or alias).
    pub fn describe_key(&self) -> Result<String> {
        let body = format!(r#"{{"KeyId":{}}}"#, json_str(&self.key_id));
        let arn = self.call("TrentService.DescribeKey", Zeroizing::new(body.into_bytes()), &|reply| {
            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct Meta {
                arn: String,
                #[serde(default)]
                enabled: Option<bool>,
            }
            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct Desc {
                key_metadata: Meta,
            }
            match serde_json::from_slice::<Desc>(&reply.body) {
                Ok(d) if d.key_metadata.enabled == Some(false) => Err(Error::KmsKeyDisabled),
                Ok(d) => Ok(d.key_metadata.arn),
                Err(_) => Err(Error::ProviderFailed("unexpected KMS response")),
            }
        })?;
        self.remember_arn(&arn);
        Ok(arn)
    }

    fn remember_arn(&self, arn: &str) {
        if same_key(&self.key_id, arn) {
            let mut a = self.arn.lock().unwrap_or_else(|e| e.into_inner());
            if a.is_none() {
                *a = Some(arn.to_owned());
            }
        }
    }

    /// One signed KMS call with retries; `parse` reads a 200 answer.
    fn call<T>(&self, target: &'static str, body: Zeroizing<Vec<u8>>, parse: &dyn Fn(&Reply) -> Result<T>) -> Result<T> {
        let send = |agent: &ureq::Agent| -> SendResult {
            let identity = self.credentials.clone().into();
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region(&self.region)
                .name("kms")
                .time(SystemTime::now())
                .settings(SigningSettings::default())
                .build()
                .map_err(|_| ureq::Error::Other("signing parameters".into()))?
                .into();
            let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target)];
            let signable = SignableRequest::new("POST", &self.url, headers.iter().copied(), SignableBody::Bytes(&body))
                .map_err(|_| ureq::Error::Other("signable request".into()))?;
            let (instructions, _) =
                sign(signable, &params).map_err(|_| ureq::Error::Other("signing".into()))?.into_parts();
            let mut req = agent.post(self.url.as_str()).header("content-type", headers[0].1).header("x-amz-target", target);
            for (name, value) in instructions.headers() {
                req = req.header(name, value);
            }
            req.send(body.as_slice())
        };
        self.http.call(&send, &|reply| if reply.status == 200 { Attempt::Done(parse(&reply)) } else { kms_error(&reply) })
    }

    /// The KMS `EncryptionContext` JSON object for `ctx`: the envelope's pairs plus the
    /// binding entry.
    fn encryption_context(ctx: &WrapContext<'_>) -> Result<String> {
        let mut m: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in ctx.encryption_context().iter() {
            if k == AWS_BINDING_CONTEXT_KEY {
                return Err(Error::InvalidParameter("encryption context key \"sealwire:wrap\" is reserved for AWS KMS"));
            }
            m.insert(k, v);
        }
        let binding = hex_lower(&Sha256::digest(ctx.aad()));
        m.insert(AWS_BINDING_CONTEXT_KEY, &binding);
        serde_json::to_string(&m).map_err(|_| Error::InvalidParameter("encryption context"))
    }

    fn entry(&self, r: &KmsResp<'_>) -> Result<WrappedKey> {
        let blob = r.ciphertext_blob.ok_or(Error::ProviderFailed("unexpected KMS response"))?;
        let blob = B64.decode(blob).map_err(|_| Error::ProviderFailed("unexpected KMS response"))?;
        let arn = r.key_id.unwrap_or(&self.key_id);
        WrappedKey::new(AWS_KMS_PROVIDER, arn, 0, blob)
    }

    fn parse_wrap(&self, reply: &Reply) -> Result<WrappedKey> {
        let r: KmsResp<'_> = serde_json::from_slice(&reply.body).map_err(|_| Error::ProviderFailed("unexpected KMS response"))?;
        if let Some(arn) = r.key_id {
            self.remember_arn(arn);
        }
        self.entry(&r)
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

fn hex_lower(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(char::from(HEX[usize::from(x >> 4)]));
        s.push(char::from(HEX[usize::from(x & 15)]));
    }
    s
}

impl KeyProvider for AwsKms {
    fn provider_id(&self) -> &str {
        AWS_KMS_PROVIDER
    }

    /// The key ARN once known (from a response or [`AwsKms::describe_key`]), else the
    /// configured key id.
    fn key_id(&self) -> String {
        self.arn.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_else(|| self.key_id.clone())
    }

    /// Entries of this key or of a previous key: by ARN, by key id (an ARN ending in
    /// `:key/{id}`), or by the ARN learnt from an earlier response.
    fn owns(&self, entry: &WrappedKey) -> bool {
        if entry.provider() != AWS_KMS_PROVIDER {
            return false;
        }
        let k = entry.key_id();
        if same_key(&self.key_id, k) || self.previous_key_ids.iter().any(|p| same_key(p, k)) {
            return true;
        }
        self.arn.lock().unwrap_or_else(|e| e.into_inner()).as_deref() == Some(k)
    }

    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        let ec = Self::encryption_context(ctx)?;
        let pt = encode_data_key(dek);
        let kid = json_str(&self.key_id);
        let mut body = Zeroizing::new(Vec::with_capacity(64 + kid.len() + pt.len() + ec.len()));
        body.extend_from_slice(br#"{"KeyId":"#);
        body.extend_from_slice(kid.as_bytes());
        body.extend_from_slice(br#","Plaintext":""#);
        body.extend_from_slice(pt.as_bytes());
        body.extend_from_slice(br#"","EncryptionContext":"#);
        body.extend_from_slice(ec.as_bytes());
        body.push(b'}');
        self.call("TrentService.Encrypt", body, &|reply| self.parse_wrap(reply))
    }

    fn generate_data_key(&self, ctx: &WrapContext<'_>) -> Result<Option<(DataKey, WrappedKey)>> {
        if !self.generate {
            return Ok(None);
        }
        let ec = Self::encryption_context(ctx)?;
        let body = format!(r#"{{"KeyId":{},"NumberOfBytes":32,"EncryptionContext":{ec}}}"#, json_str(&self.key_id));
        let r = self.call("TrentService.GenerateDataKey", Zeroizing::new(body.into_bytes()), &|reply| {
            let r: KmsResp<'_> =
                serde_json::from_slice(&reply.body).map_err(|_| Error::ProviderFailed("unexpected KMS response"))?;
            let pt = r.plaintext.ok_or(Error::ProviderFailed("unexpected KMS response"))?;
            let dek = decode_data_key(pt)?;
            if let Some(arn) = r.key_id {
                self.remember_arn(arn);
            }
            Ok((dek, self.entry(&r)?))
        })?;
        Ok(Some(r))
    }

    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<DataKey> {
        let ec = Self::encryption_context(ctx)?;
        let body = format!(
            r#"{{"KeyId":{},"CiphertextBlob":"{}","EncryptionContext":{ec}}}"#,
            json_str(entry.key_id()),
            B64.encode(entry.wrapped())
        );
        self.call("TrentService.Decrypt", Zeroizing::new(body.into_bytes()), &|reply| {
            let r: KmsResp<'_> =
                serde_json::from_slice(&reply.body).map_err(|_| Error::ProviderFailed("unexpected KMS response"))?;
            decode_data_key(r.plaintext.ok_or(Error::ProviderFailed("unexpected KMS response"))?)
        })
    }

    /// `ReEncrypt` from the entry's key to this provider's key under the same context: the
    /// data key never leaves KMS. Moves entries of a [previous key](AwsKmsConfig::with_previous_key_id).
    fn rewrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        let ec = Self::encryption_context(ctx)?;
        let body = format!(
            r#"{{"CiphertextBlob":"{}","SourceKeyId":{},"SourceEncryptionContext":{ec},"DestinationKeyId":{},"DestinationEncryptionContext":{ec}}}"#,
            B64.encode(entry.wrapped()),
            json_str(entry.key_id()),
            json_str(&self.key_id),
        );
        self.call("TrentService.ReEncrypt", Zeroizing::new(body.into_bytes()), &|reply| self.parse_wrap(reply))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_matching() {
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert!(same_key(arn, arn));
        assert!(same_key("1234abcd-12ab-34cd-56ef-1234567890ab", arn));
        assert!(same_key("key/1234abcd-12ab-34cd-56ef-1234567890ab", arn));
        assert!(!same_key("34abcd-12ab-34cd-56ef-1234567890ab", arn));
        assert!(!same_key("alias/x", arn));
    }

    #[test]
    fn error_codes_from_json_and_xml() {
        assert_eq!(error_code(br#"{"__type":"com.amazonaws.kms#NotFoundException","message":"x"}"#), "NotFoundException");
        assert_eq!(error_code(br#"{"__type":"DisabledException"}"#), "DisabledException");
        assert_eq!(error_code(b"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>"), "SignatureDoesNotMatch");
        assert_eq!(error_code(b"garbage"), "");
    }

    #[test]
    fn config_debug_hides_credentials() {
        let c = AwsKmsConfig::new("k", "us-east-1", AwsCredentials::new("AKIDSECRETID", "SECRETKEY", Some("SESSIONTOK")));
        let d = format!("{c:?}");
        assert!(!d.contains("SECRET") && !d.contains("SESSIONTOK"), "{d}");
        let p = AwsKms::new(c.with_endpoint("http://127.0.0.1:1")).unwrap();
        let d = format!("{p:?}");
        assert!(!d.contains("SECRET") && !d.contains("SESSIONTOK"), "{d}");
        assert!(AwsKms::new(AwsKmsConfig::new("k", "US EAST", AwsCredentials::new("a", "b", None))).is_err());
    }
}
