/*
 * C shim for the `dpdk` crate.
 *
 * DPDK implements its fast path (burst RX/TX, mbuf alloc/free, ring
 * enqueue/dequeue, rte_errno, rte_lcore_id, TSC reads) as `static inline`
 * functions or per-lcore thread-local variables, which have no symbol that
 * Rust could link against. This header declares one exported wrapper per
 * inline function we need; shim.c implements them by calling the inline
 * function, compiled with DPDK's own CFLAGS. bindgen reads this header (and
 * through it the DPDK headers) to generate `sys`.
 */
#ifndef DPDK_RS_SHIM_H
#define DPDK_RS_SHIM_H

#include <stdint.h>

#include <rte_config.h>
#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_ring.h>
#include <rte_version.h>
#include <rte_net.h>
#include <rte_flow.h>

/* ethdev fast path */
uint16_t shim_rx_burst(uint16_t port_id, uint16_t queue_id,
		       struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
uint16_t shim_tx_burst(uint16_t port_id, uint16_t queue_id,
		       struct rte_mbuf **tx_pkts, uint16_t nb_pkts);

/* mbuf */
struct rte_mbuf *shim_pktmbuf_alloc(struct rte_mempool *mp);
int shim_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
			    unsigned int count);
void shim_pktmbuf_free(struct rte_mbuf *m);
char *shim_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *shim_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *shim_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int shim_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
uint16_t shim_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t shim_pktmbuf_tailroom(const struct rte_mbuf *m);
int shim_pktmbuf_is_contiguous(const struct rte_mbuf *m);
uint16_t shim_mbuf_refcnt(const struct rte_mbuf *m);

/* mempool */
const char *shim_mempool_ops_name(const struct rte_mempool *mp);
unsigned int shim_mempool_size(const struct rte_mempool *mp);

/* per-lcore state */
unsigned int shim_lcore_id(void);
int shim_errno(void);
void shim_set_errno(int value);

/* TSC */
uint64_t shim_get_tsc_cycles(void);

/* rings (single-producer / single-consumer) */
unsigned int shim_ring_sp_enqueue_burst(struct rte_ring *r, void *const *objs,
					unsigned int n, unsigned int *free_space);
unsigned int shim_ring_sc_dequeue_burst(struct rte_ring *r, void **objs,
					unsigned int n, unsigned int *available);
unsigned int shim_ring_count(const struct rte_ring *r);

/*
 * Returns a value derived from the address of one exported symbol of each
 * library the crate needs at run time (ethdev, net, mbuf, mempool, ring,
 * eal), so that the linker's --as-needed keeps all of them in DT_NEEDED.
 * Called once from Eal::init; the value itself is meaningless.
 */
uintptr_t shim_link_anchor(void);

/* An ethdev port (net_ring PMD) whose single RX queue dequeues from `rx` and whose single TX
 * queue enqueues into `tx`; returns the port id or -1 (rte_errno set). */
int shim_eth_from_rings(const char *name, struct rte_ring *rx, struct rte_ring *tx, unsigned int numa);

/*
 * rte_flow: an ingress rule "IPv4 with L4 protocol `l4proto` (6 TCP, 17 UDP) whose destination
 * port matches `port_spec` under `port_mask` (both host order) -> RX queue `queue`".
 * With `validate_only` the rule is only checked (rte_flow_validate) and `*out` untouched.
 * Returns 0 or a negative errno; on failure the driver's message (or strerror) is copied into
 * `msg` (NUL-terminated, at most `msg_len` bytes).
 */
int shim_flow_dst_port_to_queue(uint16_t port_id, uint8_t l4proto, uint16_t port_spec,
				uint16_t port_mask, uint16_t queue, int validate_only,
				struct rte_flow **out, char *msg, size_t msg_len);
/* Destroys a rule made by shim_flow_dst_port_to_queue; same return convention. */
int shim_flow_destroy(uint16_t port_id, struct rte_flow *flow, char *msg, size_t msg_len);

#endif /* DPDK_RS_SHIM_H */
