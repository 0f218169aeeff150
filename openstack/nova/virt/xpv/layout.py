# SPDX-License-Identifier: Apache-2.0
"""The mirrored vNUMA layout: one guest cell per host NUMA node.

Pure arithmetic, no Nova or libvirt: the driver turns the result into
``<cpu><numa><cell>`` and ``<numatune><memnode>`` config objects.
"""

import collections

Cell = collections.namedtuple('Cell', 'host_node vcpus memory_kib')


class LayoutError(ValueError):
    """This host cannot give the flavor a mirrored layout (says why)."""


def _split(total, parts):
    """total as `parts` integers differing by at most one, larger first."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def mirrored_cells(host_nodes, vcpus, memory_mb):
    """Guest cell i on host node host_nodes[i], vCPUs and memory split evenly.

    host_nodes: the host's NUMA node ids (each gets one cell).  vCPUs are
    numbered contiguously cell after cell; memory is split in whole MiB
    (returned in KiB, libvirt's default unit), so the cells add up to the
    flavor's memory exactly.  Every cell needs at least one vCPU and one
    MiB: the guest driver reports where a cell's vCPUs run, and a cell
    without vCPUs would make a guest node QEMU cannot describe to
    Linux as a CPU node.
    """
    nodes = list(host_nodes)
    if not nodes:
        raise LayoutError('the host reports no NUMA node')
    if len(set(nodes)) != len(nodes):
        raise LayoutError('host NUMA node ids repeat: %s' % nodes)
    if vcpus < len(nodes):
        raise LayoutError('%d vCPU(s) cannot fill one guest cell per host '
                          'NUMA node (%d nodes)' % (vcpus, len(nodes)))
    if memory_mb < len(nodes):
        raise LayoutError('%d MiB cannot be split over %d host NUMA nodes'
                          % (memory_mb, len(nodes)))
    cells = []
    first = 0
    for node, ncpus, mem in zip(nodes, _split(vcpus, len(nodes)),
                                _split(memory_mb, len(nodes))):
        cells.append(Cell(node, set(range(first, first + ncpus)),
                          mem * 1024))
        first += ncpus
    return cells
