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
using Identity = std::unique_ptr<sealwire_identity, IdentityDeleter>;
using PublicIdentity = std::unique_ptr<sealwire_public_identity, PublicDeleter>;

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

    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
