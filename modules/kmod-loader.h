/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <libkmod.h>

/* libkmod is loaded on first use (dlopen, as metadata/curl-loader.c loads libcurl), so the guardian
 * daemon, which never reads a module, maps neither libkmod nor what it pulls in (liblzma, libzstd,
 * libcrypto): its idle RSS is a target. Include this header after <libkmod.h>: the kmod_* calls
 * below then go through the loaded table. */
typedef struct KmodFunctions {
        struct kmod_ctx *(*new_)(const char *dirname, const char *const *config_paths);
        struct kmod_ctx *(*unref)(struct kmod_ctx *ctx);
        void (*set_log_fn)(struct kmod_ctx *ctx,
                           void (*log_fn)(void *data, int priority, const char *file, int line, const char *fn,
                                          const char *format, va_list args),
                           const void *data);
        struct kmod_list *(*list_next)(const struct kmod_list *list, const struct kmod_list *curr);
        int (*module_new_from_path)(struct kmod_ctx *ctx, const char *path, struct kmod_module **mod);
        int (*module_new_from_name)(struct kmod_ctx *ctx, const char *name, struct kmod_module **mod);
        struct kmod_module *(*module_unref)(struct kmod_module *mod);
        int (*module_insert_module)(struct kmod_module *mod, unsigned int flags, const char *options);
        int (*module_remove_module)(struct kmod_module *mod, unsigned int flags);
        int (*module_get_info)(const struct kmod_module *mod, struct kmod_list **list);
        const char *(*module_info_get_key)(const struct kmod_list *entry);
        const char *(*module_info_get_value)(const struct kmod_list *entry);
        void (*module_info_free_list)(struct kmod_list *list);
        int (*module_get_versions)(const struct kmod_module *mod, struct kmod_list **list);
        const char *(*module_version_get_symbol)(const struct kmod_list *entry);
        uint64_t (*module_version_get_crc)(const struct kmod_list *entry);
        void (*module_versions_free_list)(struct kmod_list *list);
} KmodFunctions;

extern KmodFunctions kk_kmod;

/* Loads libkmod.so.2 once. -ENOENT (errno ELIBACC is what callers see) if it is not installed,
 * -ELIBBAD if a symbol is missing. */
int kmod_load(void);

#define kmod_new(...) kk_kmod.new_(__VA_ARGS__)
#define kmod_unref(...) kk_kmod.unref(__VA_ARGS__)
#define kmod_set_log_fn(...) kk_kmod.set_log_fn(__VA_ARGS__)
#define kmod_list_next(...) kk_kmod.list_next(__VA_ARGS__)
#define kmod_module_new_from_path(...) kk_kmod.module_new_from_path(__VA_ARGS__)
#define kmod_module_new_from_name(...) kk_kmod.module_new_from_name(__VA_ARGS__)
#define kmod_module_unref(...) kk_kmod.module_unref(__VA_ARGS__)
#define kmod_module_insert_module(...) kk_kmod.module_insert_module(__VA_ARGS__)
#define kmod_module_remove_module(...) kk_kmod.module_remove_module(__VA_ARGS__)
#define kmod_module_get_info(...) kk_kmod.module_get_info(__VA_ARGS__)
#define kmod_module_info_get_key(...) kk_kmod.module_info_get_key(__VA_ARGS__)
#define kmod_module_info_get_value(...) kk_kmod.module_info_get_value(__VA_ARGS__)
#define kmod_module_info_free_list(...) kk_kmod.module_info_free_list(__VA_ARGS__)
#define kmod_module_get_versions(...) kk_kmod.module_get_versions(__VA_ARGS__)
#define kmod_module_version_get_symbol(...) kk_kmod.module_version_get_symbol(__VA_ARGS__)
#define kmod_module_version_get_crc(...) kk_kmod.module_version_get_crc(__VA_ARGS__)
#define kmod_module_versions_free_list(...) kk_kmod.module_versions_free_list(__VA_ARGS__)
