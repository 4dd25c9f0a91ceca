/*
 * Exported wrappers around DPDK static-inline functions; see shim.h.
 * Every function is a one-line forward: no policy lives here.
 */
#include "shim.h"

#include <stdio.h>
#include <string.h>
#include <rte_eth_ring.h>

/*
 * The Rust side re-declares some bit values that bindgen cannot evaluate
 * (RTE_BIT64(...) macros). Pin them here so a DPDK change breaks the build
 * instead of silently changing meaning.
 */
_Static_assert(RTE_ETH_RSS_IPV4 == (1ULL << 2), "RTE_ETH_RSS_IPV4");
_Static_assert(RTE_ETH_RSS_FRAG_IPV4 == (1ULL << 3), "RTE_ETH_RSS_FRAG_IPV4");
_Static_assert(RTE_ETH_RSS_NONFRAG_IPV4_TCP == (1ULL << 4), "RTE_ETH_RSS_NONFRAG_IPV4_TCP");
_Static_assert(RTE_ETH_RSS_NONFRAG_IPV4_UDP == (1ULL << 5), "RTE_ETH_RSS_NONFRAG_IPV4_UDP");
_Static_assert(RTE_ETH_RSS_NONFRAG_IPV4_SCTP == (1ULL << 6), "RTE_ETH_RSS_NONFRAG_IPV4_SCTP");
_Static_assert(RTE_ETH_RSS_NONFRAG_IPV4_OTHER == (1ULL << 7), "RTE_ETH_RSS_NONFRAG_IPV4_OTHER");
_Static_assert(RTE_ETH_RSS_IPV6 == (1ULL << 8), "RTE_ETH_RSS_IPV6");
_Static_assert(RTE_ETH_RSS_FRAG_IPV6 == (1ULL << 9), "RTE_ETH_RSS_FRAG_IPV6");
_Static_assert(RTE_ETH_RSS_NONFRAG_IPV6_TCP == (1ULL << 10), "RTE_ETH_RSS_NONFRAG_IPV6_TCP");
_Static_assert(RTE_ETH_RSS_NONFRAG_IPV6_UDP == (1ULL << 11), "RTE_ETH_RSS_NONFRAG_IPV6_UDP");
_Static_assert(RTE_ETH_RSS_NONFRAG_IPV6_SCTP == (1ULL << 12), "RTE_ETH_RSS_NONFRAG_IPV6_SCTP");
_Static_assert(RTE_ETH_RSS_NONFRAG_IPV6_OTHER == (1ULL << 13), "RTE_ETH_RSS_NONFRAG_IPV6_OTHER");
_Static_assert(RTE_ETH_RSS_L3_SRC_ONLY == (1ULL << 63), "RTE_ETH_RSS_L3_SRC_ONLY");
_Static_assert(RTE_ETH_RSS_L3_DST_ONLY == (1ULL << 62), "RTE_ETH_RSS_L3_DST_ONLY");
_Static_assert(RTE_ETH_RSS_L4_SRC_ONLY == (1ULL << 61), "RTE_ETH_RSS_L4_SRC_ONLY");
_Static_assert(RTE_ETH_RSS_L4_DST_ONLY == (1ULL << 60), "RTE_ETH_RSS_L4_DST_ONLY");
_Static_assert(RTE_MBUF_F_RX_RSS_HASH == (1ULL << 1), "RTE_MBUF_F_RX_RSS_HASH");
_Static_assert(sizeof(struct rte_mbuf) == 128, "rte_mbuf is two cache lines");
_Static_assert(offsetof(struct rte_mbuf, hash) == 44, "rte_mbuf.hash offset");

uint16_t shim_rx_burst(uint16_t port_id, uint16_t queue_id,
		       struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t shim_tx_burst(uint16_t port_id, uint16_t queue_id,
		       struct rte_mbuf **tx_pkts, uint16_t nb_pkts)
{
	return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

struct rte_mbuf *shim_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

int shim_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
			    unsigned int count)
{
	return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}

void shim_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

char *shim_pktmbuf_append(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_append(m, len);
}

char *shim_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_prepend(m, len);
}

char *shim_pktmbuf_adj(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_adj(m, len);
}

int shim_pktmbuf_trim(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_trim(m, len);
}

uint16_t shim_pktmbuf_headroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_headroom(m);
}

uint16_t shim_pktmbuf_tailroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_tailroom(m);
}

int shim_pktmbuf_is_contiguous(const struct rte_mbuf *m)
{
	return rte_pktmbuf_is_contiguous(m);
}

uint16_t shim_mbuf_refcnt(const struct rte_mbuf *m)
{
	return rte_mbuf_refcnt_read(m);
}

const char *shim_mempool_ops_name(const struct rte_mempool *mp)
{
	return rte_mempool_get_ops(mp->ops_index)->name;
}

unsigned int shim_mempool_size(const struct rte_mempool *mp)
{
	return mp->size;
}

unsigned int shim_lcore_id(void)
{
	return rte_lcore_id();
}

int shim_errno(void)
{
	return rte_errno;
}

void shim_set_errno(int value)
{
	rte_errno = value;
}

uint64_t shim_get_tsc_cycles(void)
{
	return rte_get_tsc_cycles();
}

unsigned int shim_ring_sp_enqueue_burst(struct rte_ring *r, void *const *objs,
					unsigned int n, unsigned int *free_space)
{
	return rte_ring_sp_enqueue_burst(r, objs, n, free_space);
}

unsigned int shim_ring_sc_dequeue_burst(struct rte_ring *r, void **objs,
					unsigned int n, unsigned int *available)
{
	return rte_ring_sc_dequeue_burst(r, objs, n, available);
}

unsigned int shim_ring_count(const struct rte_ring *r)
{
	return rte_ring_count(r);
}

uintptr_t shim_link_anchor(void)
{
	/* volatile: the compiler must keep every reference. */
	volatile uintptr_t acc = 0;
	acc ^= (uintptr_t)&rte_eth_dev_count_avail;   /* librte_ethdev */
	acc ^= (uintptr_t)&rte_net_get_ptype;         /* librte_net */
	acc ^= (uintptr_t)&rte_pktmbuf_pool_create;   /* librte_mbuf */
	acc ^= (uintptr_t)&rte_mempool_avail_count;   /* librte_mempool */
	acc ^= (uintptr_t)&rte_ring_create;           /* librte_ring */
	acc ^= (uintptr_t)&rte_eal_init;              /* librte_eal */
	acc ^= (uintptr_t)&rte_eth_from_rings;        /* librte_net_ring */
	return acc;
}

int shim_eth_from_rings(const char *name, struct rte_ring *rx, struct rte_ring *tx, unsigned int numa)
{
	struct rte_ring *rxs[1] = { rx };
	struct rte_ring *txs[1] = { tx };
	return rte_eth_from_rings(name, rxs, 1, txs, 1, numa);
}

static void flow_msg(const struct rte_flow_error *e, int ret, char *msg, size_t msg_len)
{
	if (msg == NULL || msg_len == 0)
		return;
	snprintf(msg, msg_len, "%s (type %d, errno %d)",
		 (e->message != NULL) ? e->message : rte_strerror(-ret), (int)e->type, -ret);
}

int shim_flow_dst_port_to_queue(uint16_t port_id, uint8_t l4proto, uint16_t port_spec,
				uint16_t port_mask, uint16_t queue, int validate_only,
				struct rte_flow **out, char *msg, size_t msg_len)
{
	struct rte_flow_attr attr = { .ingress = 1 };
	struct rte_flow_item_tcp tcp_spec = { .hdr.dst_port = rte_cpu_to_be_16(port_spec) };
	struct rte_flow_item_tcp tcp_mask = { .hdr.dst_port = rte_cpu_to_be_16(port_mask) };
	struct rte_flow_item_udp udp_spec = { .hdr.dst_port = rte_cpu_to_be_16(port_spec) };
	struct rte_flow_item_udp udp_mask = { .hdr.dst_port = rte_cpu_to_be_16(port_mask) };
	struct rte_flow_item pattern[4];
	struct rte_flow_action_queue q = { .index = queue };
	struct rte_flow_action actions[2];
	struct rte_flow_error err;
	int ret;

	memset(pattern, 0, sizeof(pattern));
	memset(actions, 0, sizeof(actions));
	memset(&err, 0, sizeof(err));
	pattern[0].type = RTE_FLOW_ITEM_TYPE_ETH;
	pattern[1].type = RTE_FLOW_ITEM_TYPE_IPV4;
	if (l4proto == 6) {
		pattern[2].type = RTE_FLOW_ITEM_TYPE_TCP;
		pattern[2].spec = &tcp_spec;
		pattern[2].mask = &tcp_mask;
	} else if (l4proto == 17) {
		pattern[2].type = RTE_FLOW_ITEM_TYPE_UDP;
		pattern[2].spec = &udp_spec;
		pattern[2].mask = &udp_mask;
	} else {
		if (msg != NULL && msg_len > 0)
			snprintf(msg, msg_len, "unsupported L4 protocol %u", l4proto);
		return -EINVAL;
	}
	pattern[3].type = RTE_FLOW_ITEM_TYPE_END;
	actions[0].type = RTE_FLOW_ACTION_TYPE_QUEUE;
	actions[0].conf = &q;
	actions[1].type = RTE_FLOW_ACTION_TYPE_END;

	ret = rte_flow_validate(port_id, &attr, pattern, actions, &err);
	if (ret != 0) {
		flow_msg(&err, ret, msg, msg_len);
		return ret < 0 ? ret : -ret;
	}
	if (validate_only)
		return 0;
	*out = rte_flow_create(port_id, &attr, pattern, actions, &err);
	if (*out == NULL) {
		ret = (rte_errno != 0) ? -rte_errno : -EIO;
		flow_msg(&err, ret, msg, msg_len);
		return ret;
	}
	return 0;
}

int shim_flow_destroy(uint16_t port_id, struct rte_flow *flow, char *msg, size_t msg_len)
{
	struct rte_flow_error err;
	int ret;

	memset(&err, 0, sizeof(err));
	ret = rte_flow_destroy(port_id, flow, &err);
	if (ret != 0)
		flow_msg(&err, ret, msg, msg_len);
	return ret;
}
