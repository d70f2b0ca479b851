/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "menulst/menulst.h"

/* /etc/kernelkeeper.conf and /etc/kernelkeeper.conf.d/\*.conf (lexical order, later wins), INI style.
 * Every key is in the table in config.c; anything else is an error with file:line. conf/kernelkeeper.conf
 * documents every key. */
typedef struct Config {
        /* [Menu] */
        char *menu_path;          /* Path= */
        MenuDialect dialect;      /* Dialect=grub|pvgrub */
        int separate_boot;        /* BootPartition=auto|yes|no: -1 auto */
        char *boot_device;        /* BootDevice= */
        bool freeze_boot;         /* FreezeBoot= */
        /* [State] */
        char *state_dir;          /* Directory= */
        /* [Guardian] */
        unsigned debounce_msec;   /* DebounceMSec= */
        unsigned storm_count;     /* StormCount= */
        unsigned storm_window_sec; /* StormWindowSec= */
        unsigned storm_max_backoff_sec; /* StormMaxBackoffSec= */
        unsigned recheck_sec;     /* RecheckSec= (0: only on events) */
        /* [Metadata] */
        char *metadata_url;       /* URL= */
        unsigned token_ttl_sec;   /* TokenTTLSec= */
        unsigned metadata_timeout_sec; /* TimeoutSec= (overall deadline) */
        unsigned metadata_request_timeout_msec; /* RequestTimeoutMSec= (one try) */
        bool allow_imdsv1;        /* AllowIMDSv1= */
        /* [UserData] */
        unsigned script_timeout_sec; /* ScriptTimeoutSec= */
        bool stop_on_failure;     /* StopOnFailure= */
        char *log_dir;            /* LogDirectory= */
        bool handoff_cloud_config; /* HandOffCloudConfig= */
        /* [Trial] */
        unsigned trial_panic_sec; /* PanicSec=: panic=N on a trial kernel's command line (0: not added) */
        bool trial_reboot_on_failure; /* RebootOnFailure= */
        unsigned trial_health_timeout_sec; /* HealthTimeoutSec= */
        unsigned trial_check_timeout_sec;  /* CheckTimeoutSec= */
        bool trial_auto_commit;            /* AutoCommit= */
} Config;

void config_init(Config *c);
void config_done(Config *c);
/* Reads the main file (missing is fine) and its drop-ins. explicit_path (from --config) replaces the
 * main file and must exist. On error *ret_error_line holds "file:line: message". */
int config_load(Config *c, const char *root, const char *explicit_path, char **ret_error_line);
/* Applies one file's text (size bytes, up to a NUL) on top of c, as config_load() does for each
 * file; path names it in *ret_error_line. */
int config_parse(Config *c, const char *path, const char *text, size_t size, char **ret_error_line);
/* Writes every key of c as one INI file that config_parse() reads back to the same values. */
int config_format(const Config *c, char **ret);
