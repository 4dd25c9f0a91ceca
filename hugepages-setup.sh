#!/usr/bin/env bash
# Prepare a host for cgnatd on real NICs: hugepages, hugetlbfs, and (optionally) binding
# NICs to vfio-pci. Safe and idempotent: it only ever raises the number of reserved pages,
# mounts only what is not mounted, and binds only the PCI addresses you name.
# The lab and the tests do not need any of this (they run with --no-huge).
#
# Usage:
#   hugepages-setup.sh [COUNT] [options]     reserve COUNT pages per NUMA node and mount hugetlbfs
#   hugepages-setup.sh --status              show hugepages, mounts, vfio and NIC bindings; change nothing
#   hugepages-setup.sh --help
#
# Options:
#   COUNT, --pages N   pages per NUMA node (default: 1024 x 2 MiB = 2 GiB, or 4 x 1 GiB with --1g)
#   --1g               use 1 GiB pages instead of 2 MiB (must be supported by the CPU: pdpe1gb;
#                      reserving them at runtime can fail on a fragmented host -- then put
#                      "default_hugepagesz=1G hugepagesz=1G hugepages=N" on the kernel command line)
#   --node N           only NUMA node N (repeatable; default: every node)
#   --no-mount         do not mount hugetlbfs
#   --bind PCI         bind this NIC to vfio-pci (repeatable), e.g. --bind 0000:3b:00.0
#   --noiommu          allow vfio without an IOMMU (unsafe no-IOMMU mode; VMs without vIOMMU)
#   --dry-run          print what would be done, change nothing
#
# Examples:
#   ./hugepages-setup.sh                                  # 1024 x 2 MiB per node, mount /dev/hugepages
#   ./hugepages-setup.sh 2048 --bind 0000:3b:00.0 --bind 0000:3b:00.1
#   ./hugepages-setup.sh --1g --pages 8
#   ./hugepages-setup.sh --status
set -euo pipefail

PROG=$(basename "$0")
SIZE_KB=2048
COUNT=
MOUNT=1
DRY=0
NOIOMMU=0
STATUS=0
NODES=()
BIND=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}
info() { printf '%s: %s\n' "$PROG" "$*"; }
run() {
    if [[ $DRY -eq 1 ]]; then
        printf '[dry-run] %s\n' "$*"
    else
        "$@"
    fi
}
# write_sysfs VALUE FILE
write_sysfs() {
    if [[ $DRY -eq 1 ]]; then
        printf '[dry-run] echo %s > %s\n' "$1" "$2"
    else
        echo "$1" >"$2"
    fi
}
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        -h | --help)
            usage
            exit 0
            ;;
        --status) STATUS=1 ;;
        --1g | --1G) SIZE_KB=1048576 ;;
        --2m | --2M) SIZE_KB=2048 ;;
        --pages)
            [[ $# -ge 2 ]] || die "--pages needs a number"
            COUNT=$2
            shift
            ;;
        --node)
            if [[ $# -lt 2 ]] || ! is_uint "$2"; then die "--node needs a node number"; fi
            NODES+=("$2")
            shift
            ;;
        --no-mount) MOUNT=0 ;;
        --bind)
            [[ $# -ge 2 ]] || die "--bind needs a PCI address"
            BIND+=("$2")
            shift
            ;;
        --noiommu) NOIOMMU=1 ;;
        --dry-run | -n) DRY=1 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *)
            is_uint "$1" || die "unexpected argument '$1' (see --help)"
            COUNT=$1
            ;;
    esac
    shift
done

if [[ -z "$COUNT" ]]; then
    if [[ $SIZE_KB -eq 2048 ]]; then COUNT=1024; else COUNT=4; fi
fi
is_uint "$COUNT" || die "page count must be a non-negative integer, got '$COUNT'"
SIZE_NAME=$([[ $SIZE_KB -eq 2048 ]] && echo 2M || echo 1G)

# ----------------------------------------------------------------------------------
# status
# ----------------------------------------------------------------------------------
# hp_dirs: one "<label> <dir>" line per node (or the global dir on non-NUMA kernels)
hp_dirs() {
    local size=$1 d found=0
    for d in /sys/devices/system/node/node[0-9]*; do
        [[ -d "$d/hugepages/hugepages-${size}kB" ]] || continue
        found=1
        printf '%s %s\n' "$(basename "$d")" "$d/hugepages/hugepages-${size}kB"
    done
    if [[ $found -eq 0 && -d /sys/kernel/mm/hugepages/hugepages-${size}kB ]]; then
        printf 'global %s\n' "/sys/kernel/mm/hugepages/hugepages-${size}kB"
    fi
}

show_status() {
    local size label dir
    echo "Hugepages:"
    for size in 2048 1048576; do
        if [[ ! -d /sys/kernel/mm/hugepages/hugepages-${size}kB ]]; then
            printf '  %-8s not supported by this kernel/CPU\n' "$([[ $size -eq 2048 ]] && echo 2MiB || echo 1GiB)"
            continue
        fi
        while read -r label dir; do
            printf '  %-8s %-7s total %6s  free %6s\n' "$([[ $size -eq 2048 ]] && echo 2MiB || echo 1GiB)" \
                "$label" "$(cat "$dir/nr_hugepages")" "$(cat "$dir/free_hugepages")"
        done < <(hp_dirs "$size")
    done
    echo "hugetlbfs mounts:"
    if grep -q ' hugetlbfs ' /proc/mounts; then
        awk '$3 == "hugetlbfs" { printf "  %s (%s)\n", $2, $4 }' /proc/mounts
    else
        echo "  none"
    fi
    echo "vfio:"
    if [[ -d /sys/module/vfio_pci ]]; then echo "  vfio-pci module loaded"; else echo "  vfio-pci module not loaded"; fi
    local groups=0
    [[ -d /sys/kernel/iommu_groups ]] && groups=$(find /sys/kernel/iommu_groups -mindepth 1 -maxdepth 1 | wc -l)
    echo "  IOMMU groups: $groups$([[ $groups -eq 0 ]] && echo " (no IOMMU: enable VT-d/AMD-Vi and intel_iommu=on, or use --noiommu)")"
    if [[ -r /sys/module/vfio/parameters/enable_unsafe_noiommu_mode ]]; then
        echo "  unsafe no-IOMMU mode: $(cat /sys/module/vfio/parameters/enable_unsafe_noiommu_mode)"
    fi
    echo "Network devices:"
    if command -v dpdk-devbind.py >/dev/null 2>&1; then
        dpdk-devbind.py --status-dev net 2>/dev/null | sed 's/^/  /'
    else
        echo "  dpdk-devbind.py not found (apt-get install dpdk)"
    fi
}

if [[ $STATUS -eq 1 ]]; then
    show_status
    exit 0
fi

# ----------------------------------------------------------------------------------
# changes (root)
# ----------------------------------------------------------------------------------
[[ $EUID -eq 0 || $DRY -eq 1 ]] || die "must run as root (or try --dry-run / --status)"

reserve_pages() {
    local label dir cur got any=0
    [[ -d /sys/kernel/mm/hugepages/hugepages-${SIZE_KB}kB ]] ||
        die "$SIZE_NAME hugepages are not supported here$([[ $SIZE_KB -ne 2048 ]] && echo " (CPU flag pdpe1gb missing?)")"
    while read -r label dir; do
        if [[ ${#NODES[@]} -gt 0 && "$label" != global ]]; then
            [[ " ${NODES[*]} " == *" ${label#node} "* ]] || continue
        fi
        any=1
        cur=$(cat "$dir/nr_hugepages")
        if [[ $cur -ge $COUNT ]]; then
            info "$label: $cur x $SIZE_NAME pages already reserved (>= $COUNT), leaving as is"
            continue
        fi
        write_sysfs "$COUNT" "$dir/nr_hugepages"
        if [[ $DRY -eq 0 ]]; then
            got=$(cat "$dir/nr_hugepages")
            if [[ $got -lt $COUNT ]]; then
                info "WARNING: $label: only $got of $COUNT x $SIZE_NAME pages could be reserved (memory fragmented or too small)"
            else
                info "$label: reserved $got x $SIZE_NAME pages"
            fi
        fi
    done < <(hp_dirs "$SIZE_KB")
    [[ $any -eq 1 ]] || die "no matching NUMA node (${NODES[*]})"
}

mount_hugetlbfs() {
    local want target
    want=$SIZE_NAME
    # already a hugetlbfs mount for this page size? (pagesize=2M / pagesize=1024M / 1G)
    if awk -v w="$want" '$3 == "hugetlbfs" && ($4 ~ "pagesize=" w || (w == "1G" && $4 ~ /pagesize=1024M/)) { f = 1 } END { exit !f }' /proc/mounts; then
        info "hugetlbfs for $want pages already mounted: $(awk -v w="$want" '$3 == "hugetlbfs" && $4 ~ "pagesize=" { print $2 }' /proc/mounts | tr '\n' ' ')"
        return 0
    fi
    target=/dev/hugepages
    if grep -q " $target " /proc/mounts; then
        # /dev/hugepages is taken by the other page size: use a separate mount point
        target=/dev/hugepages-$want
    fi
    run mkdir -p "$target"
    run mount -t hugetlbfs -o "pagesize=$want" nodev "$target"
    [[ $DRY -eq 1 ]] || info "mounted hugetlbfs ($want pages) on $target"
}

bind_vfio() {
    local pci dev drv
    command -v dpdk-devbind.py >/dev/null 2>&1 || die "dpdk-devbind.py not found (apt-get install dpdk)"
    if [[ ! -d /sys/module/vfio_pci ]]; then
        run modprobe vfio-pci || die "modprobe vfio-pci failed"
    fi
    if [[ $NOIOMMU -eq 1 ]]; then
        info "enabling vfio unsafe no-IOMMU mode (no DMA isolation!)"
        write_sysfs 1 /sys/module/vfio/parameters/enable_unsafe_noiommu_mode
    elif [[ ! -d /sys/kernel/iommu_groups ]] || [[ -z "$(ls -A /sys/kernel/iommu_groups 2>/dev/null)" ]]; then
        info "WARNING: no IOMMU groups: vfio-pci binding will fail; enable the IOMMU (intel_iommu=on iommu=pt) or pass --noiommu"
    fi
    for pci in "${BIND[@]}"; do
        # accept 3b:00.0 as shorthand for 0000:3b:00.0
        [[ "$pci" =~ ^[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]] && pci=0000:$pci
        [[ "$pci" =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]] || die "not a PCI address: $pci"
        dev=/sys/bus/pci/devices/$pci
        [[ -e "$dev" ]] || die "no PCI device $pci"
        drv=$([[ -e "$dev/driver" ]] && basename "$(readlink -f "$dev/driver")" || echo none)
        if [[ "$drv" == vfio-pci ]]; then
            info "$pci already bound to vfio-pci"
            continue
        fi
        info "$pci: $drv -> vfio-pci (an interface that is up with addresses must be brought down first)"
        run dpdk-devbind.py --bind=vfio-pci "$pci"
    done
}

reserve_pages
[[ $MOUNT -eq 1 ]] && mount_hugetlbfs
[[ ${#BIND[@]} -gt 0 ]] && bind_vfio
[[ $DRY -eq 1 ]] || show_status
