/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/macro.h"
#include "common/strv.h"
#include "metadata/directive.h"
#include "metadata/gunzip.h"
#include "metadata/imds.h"
#include "common/sha256.h"
#include "metadata/userdata.h"
#include "tests/tap.h"

static UserData *decode(const char *text, char **ret_err)
{
        UserData *u = NULL;
        *ret_err = NULL;
        if (userdata_decode(text, strlen(text), &u, ret_err) < 0)
                return NULL;
        return u;
}

static size_t make_gzip(const char *text, size_t n, unsigned char *out, size_t out_size)
{
        z_stream z = { .next_in = (Bytef *) text, .avail_in = (uInt) n, .next_out = out, .avail_out = (uInt) out_size };
        deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
        deflate(&z, Z_FINISH);
        deflateEnd(&z);
        return out_size - z.avail_out;
}

static void test_sha256(void)
{
        char hex[SHA256_HEX_SIZE];
        ok(sha256_hex("", 0, hex) == 0, "libcrypto loads");
        is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256 of nothing");
        sha256_hex("abc", 3, hex);
        is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256 of abc");
        const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        sha256_hex(m, strlen(m), hex);
        is_str(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "sha256 two blocks");
}

static void test_url(void)
{
        ok(imds_url_check("http://169.254.169.254") == 0, "IPv4 literal");
        ok(imds_url_check("http://[fd00:ec2::254]") == 0, "IPv6 literal");
        ok(imds_url_check("http://127.0.0.1:8080/") == 0, "port and slash");
        ok(imds_url_check("http://instance-data") < 0, "hostname refused");
        ok(imds_url_check("https://169.254.169.254") < 0, "https refused");
        ok(imds_url_check("http://169.254.169.254/latest") < 0, "path refused");
        ok(imds_url_check("http://user@169.254.169.254") < 0, "userinfo refused");
        ok(imds_url_check("http://0x7f.1") < 0, "odd IPv4 forms refused");
        ok(imds_url_check("http://127.0.0.1:0") < 0 && imds_url_check("http://127.0.0.1:70000") < 0, "bad port");
}

static void test_plain(void)
{
        char *err;
        UserData *u = decode("#!/bin/bash\necho hi\n", &err);
        ok(u && u->n_parts == 1 && u->parts[0].kind == USERDATA_SCRIPT &&
                   u->parts[0].frequency == USERDATA_PER_INSTANCE,
           "plain #! is a per-instance script");
        userdata_free(u);
        u = decode("  \n\n", &err);
        ok(u && u->n_parts == 0, "white space is no parts");
        userdata_free(u);
        u = decode("#cloud-config\nruncmd: []\n", &err);
        ok(u && u->n_parts == 1 && u->parts[0].kind == USERDATA_CLOUD_CONFIG, "#cloud-config");
        userdata_free(u);
        u = decode("#include\nhttp://x\n", &err);
        ok(u && u->n_parts == 1 && u->parts[0].kind == USERDATA_OTHER &&
                   streq(u->parts[0].content_type, "text/x-include-url"),
           "#include is other");
        userdata_free(u);
}

static void test_gzip(void)
{
        const char *script = "#!/bin/sh\necho zipped\n";
        unsigned char gz[256];
        size_t n = make_gzip(script, strlen(script), gz, sizeof gz);
        UserData *u = NULL;
        char *err = NULL;
        ok(userdata_decode(gz, n, &u, &err) == 0 && u->gzip && u->n_parts == 1 &&
                   streq(u->parts[0].data, script),
           "gzip inflated");
        userdata_free(u);
        u = NULL;
        ok(userdata_decode(gz, n - 5, &u, &err) == -EBADMSG && err && strstr(err, "corrupt or truncated gzip"),
           "truncated gzip refused");
        free(err);
        err = NULL;
        char *out;
        size_t m;
        ok(gunzip(gz, n, 5, &out, &m) == -EFBIG, "inflate cap");
}

static const char MIXED[] =
        "Content-Type: multipart/mixed; boundary=\"===b===\"\r\n"
        "MIME-Version: 1.0\r\n"
        "\r\n"
        "preamble\r\n"
        "--===b===\r\n"
        "Content-Type: text/x-shellscript-per-boot; charset=\"us-ascii\"\r\n"
        "Content-Disposition: attachment; filename=\"boot.sh\"\r\n"
        "\r\n"
        "#!/bin/sh\r\necho boot\r\n"
        "--===b===\r\n"
        "Content-Type: text/x-shellscript-per-once\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "IyEvYmluL3NoCmVjaG8gb25jZQo=\r\n"
        "--===b===\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "#kernelkeeper {\"pin\": {\"default\": \"title=3DA=3DB\", =\r\n"
        "\"fallback\": []}}\r\n"
        "--===b===\r\n"
        "Content-Type: multipart/alternative;\r\n"
        " boundary=inner\r\n"
        "\r\n"
        "--inner\r\n"
        "Content-Type: text/cloud-config\r\n"
        "\r\n"
        "#cloud-config\r\n"
        "--inner--\r\n"
        "--===b===--\r\n"
        "epilogue\r\n";

static void test_mime(void)
{
        char *err;
        UserData *u = decode(MIXED, &err);
        if (!ok(u && u->n_parts == 4, "MIME with CRLF, base64, quoted-printable, nesting"))
                printf("#   %s\n", err ? err : "");
        if (u && u->n_parts == 4) {
                is_str(u->parts[0].data, "#!/bin/sh\r\necho boot", "the line end before a delimiter is not content");
                ok(u->parts[0].frequency == USERDATA_PER_BOOT, "per-boot");
                is_str(u->parts[0].filename, "boot.sh", "filename");
                is_str(u->parts[1].data, "#!/bin/sh\necho once\n", "base64 part");
                ok(u->parts[1].frequency == USERDATA_ONCE, "per-once");
                ok(u->parts[2].kind == USERDATA_DIRECTIVE && streq(u->parts[2].directive->pin_default, "title=A=B") &&
                           u->parts[2].directive->pin_fallback && !u->parts[2].directive->pin_fallback[0],
                   "quoted-printable directive, empty fallback");
                ok(u->parts[3].kind == USERDATA_CLOUD_CONFIG, "nested cloud-config");
                ok(u->mime, "mime flag");
        }
        userdata_free(u);
        free(err);

        static const struct {
                const char *text, *error;
        } bad[] = {
                { "Content-Type: multipart/mixed\n\n--a\n\n#!/bin/sh\n--a--\n", "without a boundary parameter" },
                { "Content-Type: multipart/mixed; boundary=a\n\n--a\n\n#!/bin/sh\n", "closing MIME boundary is missing" },
                { "Content-Type: multipart/mixed; boundary=a\n\nno parts here\n", "without any boundary line" },
                { "Content-Type: multipart/mixed; boundary=a\n\n--a\n#!/bin/sh\n--a--\n", "MIME part 1: line 1: not a MIME header line" },
                { "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: text/x-shellscript\n\necho\n--a--\n", "must start with #!" },
                { "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Transfer-Encoding: base64\n\n!!!\n--a--\n", "invalid base64" },
                { "Content-Type: text\n\nx", "malformed Content-Type" },
                { "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: application/x-gzip\n\nplain\n--a--\n", "is not gzip data" },
                /* MIME header values are user data too: never quoted */
                { "Content-Type: multipart/canary\n\n--a\n\n#!/bin/sh\n--a--\n", "multipart without a boundary parameter" },
                { "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: text/canary\nContent-Transfer-Encoding: base64\n\n!!!\n--a--\n", "invalid base64" },
                { "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: text/canary\nContent-Transfer-Encoding: quoted-printable\n\n=ZZ\n--a--\n", "invalid quoted-printable" },
                { "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Transfer-Encoding: x-canary\n\nx\n--a--\n", "unsupported Content-Transfer-Encoding" },
                { "Content-Type: text/plain\ncontent-type: text/canary\n\nx", "duplicate Content-Type header" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                u = decode(bad[i].text, &err);
                if (!ok(!u && err && strstr(err, bad[i].error) && !strstr(err, "canary"), "refused: %s", bad[i].error))
                        printf("#   got: %s\n", err ? err : "(accepted)");
                userdata_free(u);
                free(err);
        }

        /* too many parts */
        char *many = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&many, &len);
        fputs("Content-Type: multipart/mixed; boundary=a\n\n", f);
        for (int i = 0; i < 70; i++)
                fputs("--a\n\n#!/bin/sh\n", f);
        fputs("--a--\n", f);
        fclose(f);
        u = decode(many, &err);
        ok(!u && err && strstr(err, "more than 64"), "part count cap");
        free(many);
        free(err);
}

#define SHA64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_directive(void)
{
        Directive *d = NULL;
        char *err = NULL;
        const char *good = "#kernelkeeper\n{\"pin\": {\"default\": \"release=6.1\", \"fallback\": [\"0\", \"1\"]}}\n";
        ok(directive_parse(good, strlen(good), &d, &err) == 0 && streq(d->pin_default, "release=6.1") &&
                   strv_length(d->pin_fallback) == 2,
           "directive with fallbacks");
        directive_free(d);
        const char *nofb = "#kernelkeeper {\"pin\": {\"default\": \"0\"}}";
        d = NULL;
        ok(directive_parse(nofb, strlen(nofb), &d, &err) == 0 && !d->pin_fallback, "fallback absent: unmanaged");
        directive_free(d);
        ok(!directive_detect("#kernelkeeperx", 14), "token must end");
        const char *kern = "#kernelkeeper\n{\"kernel\": {\"install\": {\"url\": \"http://10.0.2.2:8080/k.tar\", \"sha256\": \"" SHA64
                           "\"}, \"trial\": true, \"reboot\": true}}";
        d = NULL;
        ok(directive_parse(kern, strlen(kern), &d, &err) == 0 && !d->pin_default && d->kernel && d->kernel->url &&
                   d->kernel->sha256 && d->kernel->trial && d->kernel->reboot,
           "kernel directive: url, sha256, trial, reboot");
        directive_free(d);

        static const struct {
                const char *text, *error;
        } bad[] = {
                { "#kernelkeeper\n{\"pin\": {\"default\": \"0\",}}", "directive line 2 column" },
                { "#kernelkeeper\n{\"pin\": {\"default\": \"0\"}, \"canary\": 1}", "key 2 of the object is unknown" },
                { "#kernelkeeper\n{\"pin\": {\"default\": \"0\", \"canary\": []}}", "key 2 of \"pin\" is unknown" },
                { "#kernelkeeper\n{\"pin\": {\"fallback\": []}}", "needs \"default\"" },
                { "#kernelkeeper\n{\"pin\": {\"default\": \"\"}}", "non-empty selector" },
                { "#kernelkeeper\n{\"pin\": {\"default\": 5}}", "non-empty selector" },
                { "#kernelkeeper\n{\"pin\": {\"default\": \"0\", \"fallback\": \"1\"}}", "must be an array" },
                { "#kernelkeeper\n{}", "nothing to do" },
                { "#kernelkeeper\n[1]", "expected a JSON object" },
                { "#kernelkeeper\n{\"pin\": {\"default\": \"0\"}, \"pin\": {\"default\": \"1\"}}", "invalid JSON" },
                { "#kernelkeeper\n{\"pin\": {\"default\": \"secret-canary'\"}", "invalid JSON (it ends too early)" },
                /* jansson's own text would quote these ("invalid Unicode escape '\\ucana'", "near ...") */
                { "#kernelkeeper\n{\"pin\": {\"default\": \"\\ucanary\"}}", "line 2 column 26: invalid JSON (syntax error)" },
                { "#kernelkeeper\n{\"pin\": {\"default\": canary}}", "invalid JSON (syntax error)" },
                { "#kernelkeeper\n{\"pin\": {\"default\": \"0\"}} canary", "invalid JSON (text after the JSON object)" },
                { "#kernelkeeper\n{\"canary\": 1, \"canary\": 2}", "invalid JSON (a key appears twice)" },
                { "#kernelkeeper\n{\"kernel\": {\"install\": {\"package\": \"linux-image-amd64\"}, \"canary\": 1}}",
                  "key 2 of \"kernel\" is unknown" },
                { "#kernelkeeper\n{\"kernel\": {\"install\": {\"canary\": \"x\"}}}", "key 1 of \"kernel.install\" is unknown" },
                { "#kernelkeeper\n{\"kernel\": {\"trial\": true}}", "needs \"install\"" },
                { "#kernelkeeper\n{\"kernel\": {\"install\": {\"url\": \"http://10.0.0.1/k.tar\"}}}", "goes with \"sha256\"" },
                { "#kernelkeeper\n{\"kernel\": {\"install\": {\"url\": \"http://10.0.0.1/k.tar\", \"sha256\": \"abc\"}}}",
                  "64 hexadecimal digits" },
                { "#kernelkeeper\n{\"kernel\": {\"install\": {\"package\": \"a\", \"deb\": \"/b.deb\"}}}", "exactly one of" },
                { "#kernelkeeper\n{\"kernel\": {\"install\": {\"deb\": \"b.deb\"}}}", "absolute path" },
                { "#kernelkeeper\n{\"kernel\": {\"install\": {\"package\": \"a\"}, \"reboot\": true}}", "needs \"trial\"" },
                { "#kernelkeeper\n{\"kernel\": {\"install\": {\"package\": \"a\"}, \"trial\": \"yes\"}}", "true or false" },
                { "#kernelkeeper\n{\"kernel\": {\"install\": {\"url\": \"ftp://x/y\", \"sha256\": \"" SHA64 "\"}}}", "http:// or https://" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                d = NULL;
                err = NULL;
                int r = directive_parse(bad[i].text, strlen(bad[i].text), &d, &err);
                if (!ok(r == -EINVAL && !d && err && strstr(err, bad[i].error) && !strstr(err, "canary"),
                        "directive refused: %s", bad[i].error))
                        printf("#   got: %s\n", err ? err : "(accepted)");
                free(err);
        }

        /* a lone surrogate: jansson says "invalid Unicode '\uDCAA'", which is the input */
        const char *surrogate = "#kernelkeeper\n{\"pin\": {\"default\": \"\\udcaa\"}}";
        d = NULL;
        err = NULL;
        if (!ok(directive_parse(surrogate, strlen(surrogate), &d, &err) == -EINVAL && err && !strcasestr(err, "dcaa"),
                "a bad \\u escape is not quoted"))
                printf("#   got: %s\n", err ? err : "(accepted)");
        free(err);
}

int main(void)
{
        test_sha256();
        test_url();
        test_plain();
        test_gzip();
        test_mime();
        test_directive();
        return tap_done();
}
