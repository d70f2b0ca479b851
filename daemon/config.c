/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "daemon/config.h"

typedef enum ConfigType { CT_STRING, CT_PATH, CT_BOOL, CT_UINT, CT_DIALECT, CT_TRISTATE } ConfigType;

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_LINE_MAX 4096

static const struct {
        const char *section, *name;
        ConfigType type;
        size_t offset;
} keys[] = {
        { "Menu", "Path", CT_PATH, offsetof(Config, menu_path) },
        { "Menu", "Dialect", CT_DIALECT, offsetof(Config, dialect) },
        { "Menu", "BootPartition", CT_TRISTATE, offsetof(Config, separate_boot) },
        { "Menu", "BootDevice", CT_STRING, offsetof(Config, boot_device) },
        { "Menu", "FreezeBoot", CT_BOOL, offsetof(Config, freeze_boot) },
        { "State", "Directory", CT_PATH, offsetof(Config, state_dir) },
        { "Guardian", "DebounceMSec", CT_UINT, offsetof(Config, debounce_msec) },
        { "Guardian", "StormCount", CT_UINT, offsetof(Config, storm_count) },
        { "Guardian", "StormWindowSec", CT_UINT, offsetof(Config, storm_window_sec) },
        { "Guardian", "StormMaxBackoffSec", CT_UINT, offsetof(Config, storm_max_backoff_sec) },
        { "Guardian", "RecheckSec", CT_UINT, offsetof(Config, recheck_sec) },
        { "Metadata", "URL", CT_STRING, offsetof(Config, metadata_url) },
        { "Metadata", "TokenTTLSec", CT_UINT, offsetof(Config, token_ttl_sec) },
        { "Metadata", "TimeoutSec", CT_UINT, offsetof(Config, metadata_timeout_sec) },
        { "Metadata", "RequestTimeoutMSec", CT_UINT, offsetof(Config, metadata_request_timeout_msec) },
        { "Metadata", "AllowIMDSv1", CT_BOOL, offsetof(Config, allow_imdsv1) },
        { "UserData", "ScriptTimeoutSec", CT_UINT, offsetof(Config, script_timeout_sec) },
        { "UserData", "StopOnFailure", CT_BOOL, offsetof(Config, stop_on_failure) },
        { "UserData", "LogDirectory", CT_PATH, offsetof(Config, log_dir) },
        { "UserData", "HandOffCloudConfig", CT_BOOL, offsetof(Config, handoff_cloud_config) },
        { "Trial", "PanicSec", CT_UINT, offsetof(Config, trial_panic_sec) },
        { "Trial", "RebootOnFailure", CT_BOOL, offsetof(Config, trial_reboot_on_failure) },
        { "Trial", "HealthTimeoutSec", CT_UINT, offsetof(Config, trial_health_timeout_sec) },
        { "Trial", "CheckTimeoutSec", CT_UINT, offsetof(Config, trial_check_timeout_sec) },
        { "Trial", "AutoCommit", CT_BOOL, offsetof(Config, trial_auto_commit) },
};

void config_init(Config *c)
{
        *c = (Config){
                .menu_path = strdup("/boot/grub/menu.lst"),
                .dialect = MENU_DIALECT_GRUB,
                .trial_panic_sec = 10,
                .trial_reboot_on_failure = true,
                .trial_health_timeout_sec = 300,
                .trial_check_timeout_sec = 60,
                .trial_auto_commit = true,
                .separate_boot = -1,
                .state_dir = strdup("/var/lib/kernelkeeper"),
                .debounce_msec = 20,
                .storm_count = 5,
                .storm_window_sec = 60,
                .storm_max_backoff_sec = 300,
                .recheck_sec = 300,
                .metadata_url = strdup("http://169.254.169.254"),
                .token_ttl_sec = 21600,
                .metadata_timeout_sec = 240,
                .metadata_request_timeout_msec = 3000,
                .script_timeout_sec = 3600,
                .log_dir = strdup("/var/log/kernelkeeper"),
                .handoff_cloud_config = true,
        };
}

void config_done(Config *c)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (keys[i].type == CT_STRING || keys[i].type == CT_PATH)
                        free(*(char **) ((char *) c + keys[i].offset));
        *c = (Config){};
}

static int parse_bool(const char *v, bool *ret)
{
        if (streq(v, "yes") || streq(v, "true") || streq(v, "1") || streq(v, "on"))
                *ret = true;
        else if (streq(v, "no") || streq(v, "false") || streq(v, "0") || streq(v, "off"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

static int set_value(Config *c, size_t k, const char *v)
{
        void *p = (char *) c + keys[k].offset;
        switch (keys[k].type) {
        case CT_PATH:
        case CT_STRING: {
                if (keys[k].type == CT_PATH && v[0] != '/')
                        return -EINVAL;
                char *s = strdup(v);
                if (!s)
                        return -ENOMEM;
                free(*(char **) p);
                *(char **) p = isempty(v) ? (free(s), NULL) : s;
                return 0;
        }
        case CT_BOOL:
                return parse_bool(v, p);
        case CT_UINT: {
                char *end;
                errno = 0;
                unsigned long u = strtoul(v, &end, 10);
                if (errno || end == v || *end || u > UINT_MAX || v[0] == '-')
                        return -EINVAL;
                *(unsigned *) p = (unsigned) u;
                return 0;
        }
        case CT_DIALECT:
                if (streq(v, "grub"))
                        *(MenuDialect *) p = MENU_DIALECT_GRUB;
                else if (streq(v, "pvgrub"))
                        *(MenuDialect *) p = MENU_DIALECT_PVGRUB;
                else
                        return -EINVAL;
                return 0;
        case CT_TRISTATE: {
                bool b;
                if (streq(v, "auto")) {
                        *(int *) p = -1;
                        return 0;
                }
                if (parse_bool(v, &b) < 0)
                        return -EINVAL;
                *(int *) p = b;
                return 0;
        }
        }
        return -EINVAL;
}

static char *strip(char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                s[--n] = 0;
        return s;
}

/* root NULL: path is a host path (--config); else path is resolved inside root, shown as ROOT/path */
static int load_file(Config *c, const char *root, const char *rel, bool must_exist, char **ret_error_line)
{
        _cleanup_free_ char *data = NULL, *joined = root ? path_join_root(root, rel) : NULL;
        const char *path = root ? joined : rel;
        if (!path)
                return -ENOMEM;
        int r = root ? read_full_file_in_root(root, rel, 0, CONFIG_FILE_MAX, &data, NULL)
                     : read_full_file(rel, CONFIG_FILE_MAX, &data, NULL);
        if (r == -ENOENT && !must_exist)
                return 0;
        if (r == -EINVAL)
                return asprintf(ret_error_line, "%s is not a regular file", path) < 0 ? -ENOMEM : r;
        if (r == -EFBIG)
                return asprintf(ret_error_line, "%s: larger than %d MiB, the limit for a configuration file", path,
                                CONFIG_FILE_MAX / (1024 * 1024)) < 0
                               ? -ENOMEM
                               : r;
        if (r < 0)
                return asprintf(ret_error_line, "%s: %s", path, strerror(-r)) < 0 ? -ENOMEM : r;
        return config_parse(c, path, data, strlen(data), ret_error_line);
}

int config_parse(Config *c, const char *path, const char *text, size_t size, char **ret_error_line)
{
        int r;
        /* a NUL ends the text, as it ends a file read by load_file() */
        _cleanup_free_ char *data = strndup(text, size);
        if (!data)
                return -ENOMEM;
        _cleanup_free_ char *section = NULL;
        unsigned line = 0;
        char *p = data;
        while (p && *p) {
                char *nl = strchr(p, '\n');
                if (nl)
                        *nl = 0;
                line++;
                if (strlen(p) > CONFIG_LINE_MAX)
                        return asprintf(ret_error_line, "%s:%u: line longer than %d bytes, the limit", path, line,
                                        CONFIG_LINE_MAX) < 0
                                       ? -ENOMEM
                                       : -E2BIG;
                char *l = strip(p);
                p = nl ? nl + 1 : NULL;
                if (!*l || *l == '#' || *l == ';')
                        continue;
                if (*l == '[') {
                        char *end = strchr(l, ']');
                        if (!end || end[1])
                                goto bad_section;
                        free(section);
                        section = strndup(l + 1, (size_t) (end - l - 1));
                        if (!section)
                                return -ENOMEM;
                        bool known = false;
                        for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                                known = known || streq(keys[k].section, section);
                        if (!known)
                                return asprintf(ret_error_line, "%s:%u: unknown section [%s]", path, line, section) < 0
                                               ? -ENOMEM
                                               : -EINVAL;
                        continue;
                }
                char *eq = strchr(l, '=');
                if (!eq)
                        return asprintf(ret_error_line, "%s:%u: expected KEY=VALUE", path, line) < 0 ? -ENOMEM
                                                                                                   : -EINVAL;
                *eq = 0;
                char *key = strip(l), *value = strip(eq + 1);
                if (!section)
                        return asprintf(ret_error_line, "%s:%u: '%s' outside of a [section]", path, line, key) < 0
                                       ? -ENOMEM
                                       : -EINVAL;
                size_t k;
                for (k = 0; k < ELEMENTSOF(keys); k++)
                        if (streq(keys[k].section, section) && streq(keys[k].name, key))
                                break;
                if (k == ELEMENTSOF(keys))
                        return asprintf(ret_error_line, "%s:%u: unknown key '%s' in [%s]", path, line, key, section) < 0
                                       ? -ENOMEM
                                       : -EINVAL;
                r = set_value(c, k, value);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 && keys[k].type == CT_PATH)
                        return asprintf(ret_error_line, "%s:%u: %s= needs an absolute path, not '%s'", path, line, key,
                                        value) < 0
                                       ? -ENOMEM
                                       : -EINVAL;
                if (r < 0)
                        return asprintf(ret_error_line, "%s:%u: invalid value '%s' for %s=", path, line, value, key) < 0
                                       ? -ENOMEM
                                       : -EINVAL;
        }
        return 0;

bad_section:
        return asprintf(ret_error_line, "%s:%u: malformed section header", path, line) < 0 ? -ENOMEM : -EINVAL;
}

static int filter_conf(const struct dirent *d)
{
        size_t n = strlen(d->d_name);
        return d->d_name[0] != '.' && n > 5 && streq(d->d_name + n - 5, ".conf");
}

int config_load(Config *c, const char *root, const char *explicit_path, char **ret_error_line)
{
        *ret_error_line = NULL;
        /* --config FILE is a host path; the default one is in the tree and resolved inside it */
        const char *main_path = explicit_path ? explicit_path : SYSCONFDIR "/kernelkeeper.conf";
        const char *in = explicit_path ? NULL : root;
        int r = load_file(c, in, main_path, explicit_path != NULL, ret_error_line);
        if (r < 0)
                return r;

        _cleanup_free_ char *dir = NULL, *host_dir = NULL;
        if (asprintf(&dir, "%s.d", main_path) < 0)
                return -ENOMEM;
        if (in) {
                r = chase_in_root(in, dir, 0, &host_dir);
                if (r == -ENOENT)
                        return 0; /* no drop-in directory */
                if (r < 0)
                        return asprintf(ret_error_line, "%s%s: %s", root_is_host(in) ? "" : in, dir, strerror(-r)) < 0
                                       ? -ENOMEM
                                       : r;
        }
        struct dirent **names = NULL;
        const char *shown = in ? host_dir : dir;
        int n = scandir(shown, &names, filter_conf, alphasort);
        if (n < 0) {
                r = -errno;
                if (r == -ENOENT)
                        return 0; /* no drop-in directory */
                if (r == -ENOTDIR)
                        return asprintf(ret_error_line, "%s is not a directory", shown) < 0 ? -ENOMEM : r;
                return asprintf(ret_error_line, "%s: %s", shown, strerror(-r)) < 0 ? -ENOMEM : r;
        }
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                if (r >= 0 && asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0)
                        r = -ENOMEM;
                if (r >= 0)
                        r = load_file(c, in, path, true, ret_error_line);
                free(names[i]);
        }
        free(names);
        return r;
}

int config_format(const Config *c, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t size;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                const void *p = (const char *) c + keys[k].offset;
                if (k == 0 || !streq(keys[k].section, keys[k - 1].section))
                        fprintf(f, "[%s]\n", keys[k].section);
                fprintf(f, "%s=", keys[k].name);
                switch (keys[k].type) {
                case CT_STRING:
                case CT_PATH:
                        fputs(*(char *const *) p ?: "", f);
                        break;
                case CT_BOOL:
                        fputs(*(const bool *) p ? "yes" : "no", f);
                        break;
                case CT_UINT:
                        fprintf(f, "%u", *(const unsigned *) p);
                        break;
                case CT_DIALECT:
                        fputs(*(const MenuDialect *) p == MENU_DIALECT_PVGRUB ? "pvgrub" : "grub", f);
                        break;
                case CT_TRISTATE:
                        fputs(*(const int *) p < 0 ? "auto" : *(const int *) p ? "yes" : "no", f);
                        break;
                }
                fputc('\n', f);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}
