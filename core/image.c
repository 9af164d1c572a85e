/* Image store: import, prepare, list, inspect, remove, gc (stubs until the store lands). */
#include "image.h"

#include <errno.h>
#include <stdlib.h>

#include "util.h"

struct image_info *image_info_free(struct image_info *info)
{
    if (!info)
        return NULL;
    free(info->id);
    free(info->name);
    strv_free(info->layers);
    strv_free(info->layer_ids);
    strv_free(info->entrypoint);
    strv_free(info->cmd);
    strv_free(info->env);
    free(info->workdir);
    free(info->user);
    strv_free(info->exposed_ports);
    free(info->stop_signal);
    free(info);
    return NULL;
}

int image_prepare(const char *root_dir, const char *ref, const char *holder,
        const struct image_opts *opts, struct image_info **ret, struct err *err)
{
    return err_setx(err, ENOSYS, "image '%s': image store not implemented yet", ref);
}

int image_release(const char *root_dir, const char *holder, struct err *err)
{
    return 0;
}

int image_import(const char *root_dir, const char *source, const char *name,
        const struct image_opts *opts, struct image_info **ret, struct err *err)
{
    return err_setx(err, ENOSYS, "import '%s': not implemented yet", source);
}

int image_list(const char *root_dir, json_t **ret, struct err *err)
{
    return err_setx(err, ENOSYS, "image list: not implemented yet");
}

int image_inspect(const char *root_dir, const char *ref, json_t **ret, struct err *err)
{
    return err_setx(err, ENOSYS, "image inspect: not implemented yet");
}

int image_remove(const char *root_dir, const char *ref, struct err *err)
{
    return err_setx(err, ENOSYS, "image remove: not implemented yet");
}

int image_gc(const char *root_dir, char *const *extra_in_use, uint64_t *ret_freed,
        struct err *err)
{
    return err_setx(err, ENOSYS, "image gc: not implemented yet");
}

int image_overlay_mount(char *const *layers, const char *upper, const char *work,
        const char *target, unsigned long mount_flags, struct err *err)
{
    return err_setx(err, ENOSYS, "overlay mount: not implemented yet");
}
