/*
 * hypercache: the hypercache-pool object, one memory budget that several
 * hypercache filter nodes share
 *
 * Copyright (c) 2026 The hypercache authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The pool itself (who gets how much) is the C++ core's hc_pool.  This file
 * makes it a user-creatable QOM object, like throttle-group: nodes name it
 * with their "pool" option, join it at open and leave it at close, and a
 * timer in the main loop, armed when the first member joins, rebalances it
 * once a second.
 */

#include "qemu/osdep.h"
#include "block/block-io.h"
#include "block/block_int.h"
#include "qapi/error.h"
#include "qapi/qapi-builtin-visit.h"
#include "qapi/visitor.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qom/object.h"
#include "qom/object_interfaces.h"

#include "hypercache-int.h"

#define TYPE_HYPERCACHE_POOL "hypercache-pool"
OBJECT_DECLARE_SIMPLE_TYPE(HypercachePool, HYPERCACHE_POOL)

/* How often the pool divides its memory anew. */
#define HC_POOL_REBALANCE_MS 1000

/* The smallest pool the core accepts (8 blocks of 512 bytes). */
#define HC_POOL_MIN_SIZE 4096

struct HypercachePool {
    Object parent_obj;

    uint64_t size;
    bool size_set;
    hc_pool *pool;              /* NULL until complete() */
    QEMUTimer *timer;           /* rebalance tick, main loop */
    GSList *members;            /* BlockDriverState *, in join order */
};

static bool hypercache_pool_check_size(uint64_t size, Error **errp)
{
    uint64_t max = qemu_get_host_physmem();

    if (size < HC_POOL_MIN_SIZE || size > max) {
        error_setg(errp, "Property 'size' must be from %d to %" PRIu64
                   " bytes (the host's memory), not %" PRIu64,
                   HC_POOL_MIN_SIZE, max, size);
        return false;
    }
    return true;
}

static void hypercache_pool_get_size(Object *obj, Visitor *v,
                                     const char *name, void *opaque,
                                     Error **errp)
{
    HypercachePool *p = HYPERCACHE_POOL(obj);

    visit_type_size(v, name, &p->size, errp);
}

static void hypercache_pool_set_size(Object *obj, Visitor *v,
                                     const char *name, void *opaque,
                                     Error **errp)
{
    HypercachePool *p = HYPERCACHE_POOL(obj);
    char err[256];
    uint64_t size;

    if (!visit_type_size(v, name, &size, errp) ||
        !hypercache_pool_check_size(size, errp)) {
        return;
    }
    if (p->pool && hc_pool_set_size(p->pool, size, err, sizeof(err)) < 0) {
        error_setg(errp, "Property 'size' cannot be %" PRIu64 ": %s",
                   size, err);
        return;
    }
    p->size = size;
    p->size_set = true;
}

static void hypercache_pool_get_members(Object *obj, Visitor *v,
                                        const char *name, void *opaque,
                                        Error **errp)
{
    HypercachePool *p = HYPERCACHE_POOL(obj);
    g_autoptr(strList) list = NULL;
    strList **tail = &list;
    GSList *l;

    for (l = p->members; l; l = l->next) {
        QAPI_LIST_APPEND(tail, g_strdup(bdrv_get_node_name(l->data)));
    }
    visit_type_strList(v, name, &list, errp);
}

static void hypercache_pool_writeback_member(gpointer data,
                                            gpointer user_data)
{
    hypercache_pool_writeback(data);
}

static void hypercache_pool_timer_cb(void *opaque)
{
    HypercachePool *p = opaque;
    int ret;

    if (p->members) {
        /*
         * A positive result counts members whose dirty data does not fit
         * their new share yet: they shrank as far as it allows.  The core
         * does not say which ones, so every member with dirty data writes
         * it back now, and the next tick shrinks them further.  Dirty data
         * is never dropped.
         */
        ret = hc_pool_rebalance(p->pool);
        if (ret > 0) {
            g_slist_foreach(p->members, hypercache_pool_writeback_member,
                            NULL);
        } else if (ret < 0) {
            warn_report_once("hypercache-pool '%s': rebalance failed: %s",
                             object_get_canonical_path_component(OBJECT(p)),
                             strerror(-ret));
        }
    }
    timer_mod(p->timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
              HC_POOL_REBALANCE_MS);
}

static void hypercache_pool_complete(UserCreatable *uc, Error **errp)
{
    HypercachePool *p = HYPERCACHE_POOL(uc);
    char err[256];

    if (!p->size_set) {
        error_setg(errp, "Property 'size' is required");
        return;
    }
    p->pool = hc_pool_create(p->size, err, sizeof(err));
    if (!p->pool) {
        error_setg(errp, "Property 'size': %s", err);
        return;
    }
}

static bool hypercache_pool_can_be_deleted(UserCreatable *uc)
{
    return !HYPERCACHE_POOL(uc)->members;
}

static void hypercache_pool_finalize(Object *obj)
{
    HypercachePool *p = HYPERCACHE_POOL(obj);

    /* Members hold a reference: there are none left. */
    assert(!p->members);
    if (p->timer) {
        timer_free(p->timer);
    }
    if (p->pool) {
        hc_pool_destroy(p->pool);
    }
}

static void hypercache_pool_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = hypercache_pool_complete;
    ucc->can_be_deleted = hypercache_pool_can_be_deleted;
    object_class_property_add(oc, "size", "size", hypercache_pool_get_size,
                              hypercache_pool_set_size, NULL, NULL);
    object_class_property_set_description(oc, "size",
        "bytes the members' caches hold together");
    object_class_property_add(oc, "members", "strList",
                              hypercache_pool_get_members, NULL, NULL, NULL);
    object_class_property_set_description(oc, "members",
        "node names of the hypercache nodes in the pool");
}

static const TypeInfo hypercache_pool_info = {
    .name = TYPE_HYPERCACHE_POOL,
    .parent = TYPE_OBJECT,
    .class_init = hypercache_pool_class_init,
    .instance_size = sizeof(HypercachePool),
    .instance_finalize = hypercache_pool_finalize,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_USER_CREATABLE },
        { }
    },
};

static void hypercache_pool_register_types(void)
{
    type_register_static(&hypercache_pool_info);
}

type_init(hypercache_pool_register_types);

/* ------------------------------------------------- used by the driver */

HypercachePool *hypercache_pool_find(const char *id, const char *opt,
                                     Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                id);
    HypercachePool *p;

    if (!obj) {
        error_setg(errp, "Option '%s': no object with id '%s' (create it "
                   "with -object hypercache-pool,id=%s,size=...)",
                   opt, id, id);
        return NULL;
    }
    p = (HypercachePool *)object_dynamic_cast(obj, TYPE_HYPERCACHE_POOL);
    if (!p) {
        error_setg(errp, "Option '%s': object '%s' is a %s, not a "
                   TYPE_HYPERCACHE_POOL, opt, id, object_get_typename(obj));
        return NULL;
    }
    return p;
}

const char *hypercache_pool_id(HypercachePool *p)
{
    return object_get_canonical_path_component(OBJECT(p));
}

bool hypercache_pool_join(HypercachePool *p, BlockDriverState *bs,
                          hc_cache *c, const hc_pool_member *m, Error **errp)
{
    char err[256];

    GLOBAL_STATE_CODE();
    if (hc_pool_add(p->pool, c, m, err, sizeof(err)) < 0) {
        error_setg(errp, "Cannot join hypercache-pool '%s' with weight %g "
                   "and reserve %" PRIu64 ": %s", hypercache_pool_id(p),
                   m->weight, m->reserve, err);
        return false;
    }
    object_ref(OBJECT(p));
    p->members = g_slist_append(p->members, bs);
    /*
     * Armed at the first join, not in complete(): the tools (qemu-io,
     * qemu-img) create -object objects before the main loop exists.
     */
    if (!p->timer) {
        p->timer = aio_timer_new(qemu_get_aio_context(), QEMU_CLOCK_REALTIME,
                                 SCALE_MS, hypercache_pool_timer_cb, p);
        timer_mod(p->timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                  HC_POOL_REBALANCE_MS);
    }
    return true;
}

bool hypercache_pool_update(HypercachePool *p, hc_cache *c,
                            const hc_pool_member *m, Error **errp)
{
    char err[256];

    GLOBAL_STATE_CODE();
    if (hc_pool_set_member(p->pool, c, m, err, sizeof(err)) < 0) {
        error_setg(errp, "hypercache-pool '%s': %s",
                   hypercache_pool_id(p), err);
        return false;
    }
    return true;
}

void hypercache_pool_leave(HypercachePool *p, BlockDriverState *bs,
                           hc_cache *c)
{
    GLOBAL_STATE_CODE();
    hc_pool_remove(p->pool, c);
    p->members = g_slist_remove(p->members, bs);
    object_unref(OBJECT(p));
}
