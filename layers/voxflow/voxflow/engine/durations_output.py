"""Expose a piper voice's durations tensor as a second model output, without onnx.

What piper's ``patch_voice_with_alignment`` does with the onnx package (about 1 s
and its 50 MB of code to parse the whole model), done on the protobuf wire format:
find the graph's one ``Ceil`` node (its output is the per-id frame counts) and
append a ``ValueInfoProto`` naming that output to the graph's outputs. Only the
ModelProto's graph and the graph's node list are read; initializers (the weights)
are skipped by their length and copied as they are.

Field numbers (onnx.proto): ModelProto.graph 7; GraphProto.node 1, .output 12;
NodeProto.output 2, .op_type 4; ValueInfoProto.name 1.
"""

from collections.abc import Iterator

_LEN = 2  # length-delimited wire type
_MODEL_GRAPH, _GRAPH_NODE, _GRAPH_OUTPUT = 7, 1, 12
_NODE_OUTPUT, _NODE_OP_TYPE, _VALUE_INFO_NAME = 2, 4, 1


class NotPatchable(ValueError):
    """The model has no single Ceil node, or is not a protobuf ModelProto."""


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data):
            raise NotPatchable("truncated varint")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            return value, position
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(
    data: bytes, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, int, int, int]]:
    """(field number, field start, value start, value end) of each length-delimited
    field in ``data[start:end]``; other fields are skipped."""
    position, end = start, len(data) if end is None else end
    while position < end:
        field_start = position
        tag, position = _varint(data, position)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            _, position = _varint(data, position)
        elif wire == 1:
            position += 8
        elif wire == 5:
            position += 4
        elif wire == _LEN:
            length, position = _varint(data, position)
            if position + length > end:
                raise NotPatchable("a field runs past its message")
            yield number, field_start, position, position + length
            position += length
        else:
            raise NotPatchable(f"unsupported wire type {wire}")


def _len_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _LEN) + _encode_varint(len(payload)) + payload


def with_durations_output(model: bytes) -> bytes:
    """``model`` with its Ceil node's output as a graph output; unchanged if it is one."""
    graphs = [field for field in _fields(model) if field[0] == _MODEL_GRAPH]
    if len(graphs) != 1:
        raise NotPatchable("expected one graph")
    _, graph_field, graph_start, graph_end = graphs[0]
    ceil_outputs: list[bytes] = []
    output_names: set[bytes] = set()
    for number, _, start, end in _fields(model, graph_start, graph_end):
        if number == _GRAPH_NODE:
            node = list(_fields(model, start, end))
            op_type = [model[s:e] for n, _, s, e in node if n == _NODE_OP_TYPE]
            if op_type == [b"Ceil"]:
                ceil_outputs.extend(model[s:e] for n, _, s, e in node if n == _NODE_OUTPUT)
        elif number == _GRAPH_OUTPUT:
            output_names.update(
                model[s:e] for n, _, s, e in _fields(model, start, end) if n == _VALUE_INFO_NAME
            )
    if len(ceil_outputs) != 1:
        raise NotPatchable(f"expected one Ceil output, found {len(ceil_outputs)}")
    if ceil_outputs[0] in output_names:
        return model
    graph = model[graph_start:graph_end] + _len_field(
        _GRAPH_OUTPUT, _len_field(_VALUE_INFO_NAME, ceil_outputs[0])
    )
    return model[:graph_field] + _len_field(_MODEL_GRAPH, graph) + model[graph_end:]
