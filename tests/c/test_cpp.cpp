// C++17 translation unit: the header must compile as C++ (extern "C", enum with a fixed
// underlying type) and be usable with RAII wrappers.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "sealwire.h"

namespace {

struct IdentityDeleter {
    void operator()(sealwire_identity *p) const noexcept { sealwire_identity_free(p); }
};
struct PublicDeleter {
    void operator()(sealwire_public_identity *p) const noexcept { sealwire_public_identity_free(p); }
};
struct BuilderDeleter {
    void operator()(sealwire_noise_builder *p) const noexcept { sealwire_noise_builder_free(p); }
};
struct HandshakeDeleter {
    void operator()(sealwire_noise_handshake *p) const noexcept { sealwire_noise_handshake_free(p); }
};
struct TransportDeleter {
    void operator()(sealwire_noise_transport *p) const noexcept { sealwire_noise_transport_free(p); }
};
using Identity = std::unique_ptr<sealwire_identity, IdentityDeleter>;
using PublicIdentity = std::unique_ptr<sealwire_public_identity, PublicDeleter>;
using NoiseBuilder = std::unique_ptr<sealwire_noise_builder, BuilderDeleter>;
using Handshake = std::unique_ptr<sealwire_noise_handshake, HandshakeDeleter>;
using Transport = std::unique_ptr<sealwire_noise_transport, TransportDeleter>;

int passed = 0;
int failed = 0;

void check(bool ok, const char *what, int line) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        std::fprintf(stderr, "FAIL (line %d): %s\n", line, what);
    }
}
#define CHECK(cond) check((cond), #cond, __LINE__)

// Send one handshake message from w to r (length query, then the call).
bool pass(sealwire_noise_handshake *w, sealwire_noise_handshake *r) {
    size_t need = 0, n = 0;
    if (sealwire_noise_handshake_write_message(w, nullptr, 0, nullptr, 0, &need) != SEALWIRE_BUFFER_TOO_SMALL)
        return false;
    std::vector<uint8_t> m(need);
    if (sealwire_noise_handshake_write_message(w, nullptr, 0, m.data(), m.size(), &n) != SEALWIRE_OK) return false;
    uint8_t payload[1];
    return sealwire_noise_handshake_read_message(r, m.data(), n, payload, 0, &n) == SEALWIRE_OK && n == 0;
}

template <typename F>
std::string read_string(F fn, const sealwire_public_identity *pub) {
    size_t need = 0;
    if (fn(pub, nullptr, 0, &need) != SEALWIRE_BUFFER_TOO_SMALL) return {};
    std::vector<char> buf(need);
    size_t written = 0;
    if (fn(pub, buf.data(), buf.size(), &written) != SEALWIRE_OK) return {};
    return std::string(buf.data());
}

}  // namespace

int main() {
    static_assert(SEALWIRE_SIGNATURE_LEN == 64, "signature length");
    static_assert(sizeof(sealwire_result) == sizeof(uint32_t), "result is 32-bit");

    sealwire_identity *raw = nullptr;
    CHECK(sealwire_identity_generate(&raw) == SEALWIRE_OK);
    Identity id(raw);

    sealwire_public_identity *raw_pub = nullptr;
    CHECK(sealwire_identity_public(id.get(), &raw_pub) == SEALWIRE_OK);
    PublicIdentity pub(raw_pub);

    const std::string did = read_string(sealwire_public_identity_did, pub.get());
    const std::string fingerprint = read_string(sealwire_public_identity_fingerprint, pub.get());
    CHECK(did.rfind("did:key:z6Mk", 0) == 0);
    CHECK(fingerprint.size() + 1 == SEALWIRE_FINGERPRINT_BUFFER_LEN);

    const std::string msg = "c++ says hi";
    unsigned char sig[SEALWIRE_SIGNATURE_LEN];
    size_t written = 0;
    CHECK(sealwire_identity_sign(id.get(), reinterpret_cast<const uint8_t *>(msg.data()), msg.size(),
                                 sig, sizeof sig, &written) == SEALWIRE_OK);
    CHECK(sealwire_public_identity_verify(pub.get(), reinterpret_cast<const uint8_t *>(msg.data()),
                                          msg.size(), sig, sizeof sig) == SEALWIRE_OK);

    std::vector<uint8_t> bytes(SEALWIRE_PUBLIC_IDENTITY_LEN);
    CHECK(sealwire_public_identity_to_bytes(pub.get(), bytes.data(), bytes.size(), &written) == SEALWIRE_OK);
    sealwire_public_identity *raw_parsed = nullptr;
    CHECK(sealwire_public_identity_from_bytes(bytes.data(), bytes.size(), &raw_parsed) == SEALWIRE_OK);
    PublicIdentity parsed(raw_parsed);
    CHECK(sealwire_public_identity_equal(pub.get(), parsed.get()));

    sealwire_result rc = sealwire_public_identity_from_bytes(bytes.data(), 3, &raw_parsed);
    CHECK(rc == SEALWIRE_TRUNCATED);
    CHECK(std::strcmp(sealwire_result_code_string(rc), "ERR_SEALWIRE_TRUNCATED") == 0);
    CHECK(sealwire_identity_generate(nullptr) == SEALWIRE_NULL_POINTER);

    // Noise: an XX handshake between two identities, handles owned by unique_ptr.
    {
        sealwire_identity *raw_peer = nullptr;
        CHECK(sealwire_identity_generate(&raw_peer) == SEALWIRE_OK);
        Identity peer(raw_peer);
        sealwire_noise_builder *raw_b = nullptr;
        CHECK(sealwire_noise_builder_new("Noise_XX_25519_ChaChaPoly_BLAKE2s", &raw_b) == SEALWIRE_OK);
        NoiseBuilder b(raw_b);
        sealwire_noise_handshake *raw_i = nullptr, *raw_r = nullptr;
        CHECK(sealwire_noise_builder_set_local_identity(b.get(), id.get()) == SEALWIRE_OK);
        CHECK(sealwire_noise_builder_build(b.get(), SEALWIRE_NOISE_INITIATOR, &raw_i) == SEALWIRE_OK);
        CHECK(sealwire_noise_builder_set_local_identity(b.get(), peer.get()) == SEALWIRE_OK);
        CHECK(sealwire_noise_builder_build(b.get(), SEALWIRE_NOISE_RESPONDER, &raw_r) == SEALWIRE_OK);
        Handshake i(raw_i), r(raw_r);
        CHECK(pass(i.get(), r.get()) && pass(r.get(), i.get()) && pass(i.get(), r.get()));
        CHECK(sealwire_noise_handshake_is_finished(i.get()) && sealwire_noise_handshake_is_finished(r.get()));
        sealwire_noise_transport *raw_ti = nullptr, *raw_tr = nullptr;
        CHECK(sealwire_noise_handshake_into_transport(i.get(), &raw_ti) == SEALWIRE_OK);
        CHECK(sealwire_noise_handshake_into_transport(r.get(), &raw_tr) == SEALWIRE_OK);
        Transport ti(raw_ti), tr(raw_tr);  // the emptied handshakes are still freed by i and r
        std::vector<uint8_t> c(msg.size() + SEALWIRE_NOISE_TAG_LEN), back(msg.size());
        CHECK(sealwire_noise_transport_encrypt(ti.get(), reinterpret_cast<const uint8_t *>(msg.data()), msg.size(),
                                               c.data(), c.size(), &written) == SEALWIRE_OK);
        CHECK(sealwire_noise_transport_decrypt(tr.get(), c.data(), c.size(), back.data(), back.size(), &written) ==
              SEALWIRE_OK);
        CHECK(std::string(back.begin(), back.end()) == msg);
        CHECK(sealwire_noise_transport_decrypt(tr.get(), c.data(), c.size(), back.data(), back.size(), &written) ==
              SEALWIRE_DECRYPTION_FAILED);
    }

    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
