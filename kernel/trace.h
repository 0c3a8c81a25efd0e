/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of layoutlease: lease create and release, break start and
 * end, pin, unpin and revoke, and each event queued to the holders.
 * /sys/kernel/tracing/events/layoutlease/; tools/layoutlease-break.bt
 * prints a break's timeline from them.  ll_break_start fires in the task
 * that needs the blocks (the truncate, punch, ... that found the pins).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM layoutlease

#if !defined(_LAYOUTLEASE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _LAYOUTLEASE_TRACE_H

#include <linux/tracepoint.h>
#include <linux/layoutlease.h>

TRACE_EVENT(ll_lease_create,
	    TP_PROTO(u64 id, dev_t dev, u64 ino, u64 start, u64 end,
		     u32 timeout_ms),
	    TP_ARGS(id, dev, ino, start, end, timeout_ms),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(dev_t, dev)
			     __field(u64, ino)
			     __field(u64, start)
			     __field(u64, end)
			     __field(u32, timeout_ms)),
	    TP_fast_assign(__entry->id = id;
			   __entry->dev = dev;
			   __entry->ino = ino;
			   __entry->start = start;
			   __entry->end = end;
			   __entry->timeout_ms = timeout_ms;),
	    TP_printk("lease=%llu dev=%d:%d ino=%llu range=%llu-%llu timeout=%ums",
		      __entry->id, MAJOR(__entry->dev), MINOR(__entry->dev),
		      __entry->ino, __entry->start, __entry->end,
		      __entry->timeout_ms)
);

TRACE_EVENT(ll_lease_release,
	    TP_PROTO(u64 id),
	    TP_ARGS(id),
	    TP_STRUCT__entry(__field(u64, id)),
	    TP_fast_assign(__entry->id = id;),
	    TP_printk("lease=%llu", __entry->id)
);

DECLARE_EVENT_CLASS(ll_break_class,
		    TP_PROTO(const void *mapping, dev_t dev, u64 ino,
			     unsigned long npins),
		    TP_ARGS(mapping, dev, ino, npins),
		    TP_STRUCT__entry(__field(const void *, mapping)
				     __field(dev_t, dev)
				     __field(u64, ino)
				     __field(unsigned long, npins)),
		    TP_fast_assign(__entry->mapping = mapping;
				   __entry->dev = dev;
				   __entry->ino = ino;
				   __entry->npins = npins;),
		    TP_printk("mapping=%p dev=%d:%d ino=%llu pins=%lu",
			      __entry->mapping, MAJOR(__entry->dev),
			      MINOR(__entry->dev), __entry->ino, __entry->npins)
);

DEFINE_EVENT(ll_break_class, ll_break_start,
	     TP_PROTO(const void *mapping, dev_t dev, u64 ino,
		      unsigned long npins),
	     TP_ARGS(mapping, dev, ino, npins)
);

DEFINE_EVENT(ll_break_class, ll_break_end,
	     TP_PROTO(const void *mapping, dev_t dev, u64 ino,
		      unsigned long npins),
	     TP_ARGS(mapping, dev, ino, npins)
);

DECLARE_EVENT_CLASS(ll_pin_class,
		    TP_PROTO(u64 lease, u64 pin, u64 offset, unsigned long npages),
		    TP_ARGS(lease, pin, offset, npages),
		    TP_STRUCT__entry(__field(u64, lease)
				     __field(u64, pin)
				     __field(u64, offset)
				     __field(unsigned long, npages)),
		    TP_fast_assign(__entry->lease = lease;
				   __entry->pin = pin;
				   __entry->offset = offset;
				   __entry->npages = npages;),
		    TP_printk("lease=%llu pin=%llu offset=%llu pages=%lu",
			      __entry->lease, __entry->pin, __entry->offset,
			      __entry->npages)
);

DEFINE_EVENT(ll_pin_class, ll_pin,
	     TP_PROTO(u64 lease, u64 pin, u64 offset, unsigned long npages),
	     TP_ARGS(lease, pin, offset, npages)
);

DEFINE_EVENT(ll_pin_class, ll_unpin,
	     TP_PROTO(u64 lease, u64 pin, u64 offset, unsigned long npages),
	     TP_ARGS(lease, pin, offset, npages)
);

TRACE_EVENT(ll_revoke,
	    TP_PROTO(u64 lease, u64 pin, u64 offset, unsigned long npages,
		     bool unmapped),
	    TP_ARGS(lease, pin, offset, npages, unmapped),
	    TP_STRUCT__entry(__field(u64, lease)
			     __field(u64, pin)
			     __field(u64, offset)
			     __field(unsigned long, npages)
			     __field(bool, unmapped)),
	    TP_fast_assign(__entry->lease = lease;
			   __entry->pin = pin;
			   __entry->offset = offset;
			   __entry->npages = npages;
			   __entry->unmapped = unmapped;),
	    TP_printk("lease=%llu pin=%llu offset=%llu pages=%lu why=%s",
		      __entry->lease, __entry->pin, __entry->offset,
		      __entry->npages, __entry->unmapped ? "unmapped" : "deadline")
);

TRACE_DEFINE_ENUM(LAYOUTLEASE_EVENT_BREAK);
TRACE_DEFINE_ENUM(LAYOUTLEASE_EVENT_REVOKED);
TRACE_DEFINE_ENUM(LAYOUTLEASE_EVENT_UNMAPPED);
TRACE_DEFINE_ENUM(LAYOUTLEASE_EVENT_BREAK_DONE);
TRACE_DEFINE_ENUM(LAYOUTLEASE_EVENT_OVERFLOW);

/* An event record queued to @owners holders' queues (and their signals). */
TRACE_EVENT(ll_event,
	    TP_PROTO(u64 lease, u32 type, u64 pin, unsigned int owners),
	    TP_ARGS(lease, type, pin, owners),
	    TP_STRUCT__entry(__field(u64, lease)
			     __field(u32, type)
			     __field(u64, pin)
			     __field(unsigned int, owners)),
	    TP_fast_assign(__entry->lease = lease;
			   __entry->type = type;
			   __entry->pin = pin;
			   __entry->owners = owners;),
	    TP_printk("lease=%llu type=%s pin=%llu owners=%u", __entry->lease,
		      __print_symbolic(__entry->type,
				       { LAYOUTLEASE_EVENT_BREAK, "BREAK" },
				       { LAYOUTLEASE_EVENT_REVOKED, "REVOKED" },
				       { LAYOUTLEASE_EVENT_UNMAPPED, "UNMAPPED" },
				       { LAYOUTLEASE_EVENT_BREAK_DONE, "BREAK_DONE" },
				       { LAYOUTLEASE_EVENT_OVERFLOW, "OVERFLOW" }),
		      __entry->pin, __entry->owners)
);

#endif /* _LAYOUTLEASE_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
