"""Headless triangle rasteriser (moderngl over EGL; Mesa llvmpipe on CPU machines, the GPU's driver elsewhere).

One job: rasterise a triangle mesh whose vertices are already in pixel coordinates, z-buffered, interpolating up to
four per-vertex attributes. frontalize renders 3D reference points per pixel with it; fit-3dmm's overlay renders
shading; FACIAL's renderer reuses it.
"""

from __future__ import annotations

import numpy as np

from thead.errors import TheadError

_VS = """
#version 330
uniform vec2 size;
uniform vec2 zrange;
in vec3 in_pos;
in vec4 in_attr;
out vec4 v_attr;
void main() {
    // pixel centres at integer coordinates; y down in pixels, up in NDC; larger depth = closer to the camera
    float x = 2.0 * (in_pos.x + 0.5) / size.x - 1.0;
    float y = 1.0 - 2.0 * (in_pos.y + 0.5) / size.y;
    // inside (-1, 1): the farthest vertex must not sit on the far plane, where the depth test rejects it
    float z = 0.99 - 1.98 * (in_pos.z - zrange.x) / max(zrange.y - zrange.x, 1e-6);
    gl_Position = vec4(x, y, z, 1.0);
    v_attr = in_attr;
}
"""
_FS = """
#version 330
in vec4 v_attr;
layout(location=0) out vec4 out_attr;
layout(location=1) out float out_mask;
void main() { out_attr = v_attr; out_mask = 1.0; }
"""

_CTX = None


def _context():
    global _CTX
    if _CTX is None:
        import moderngl

        errors = []
        for kw in ({"backend": "egl"}, {}):
            try:
                _CTX = moderngl.create_standalone_context(require=330, **kw)
                break
            except Exception as e:  # moderngl raises plain Exception when no GL is found
                errors.append(str(e))
        if _CTX is None:
            raise TheadError(f"no OpenGL context for rendering (install Mesa EGL: apt-get install libegl1 "
                             f"libgl1-mesa-dri): {errors[-1]}")
    return _CTX


class Rasterizer:
    """Rasterise meshes into (height, width) float32 attribute images.

    Args:
        width, height: output size, pixels.
    """

    def __init__(self, width: int, height: int):
        ctx = _context()
        self.ctx = ctx
        self.width, self.height = int(width), int(height)
        self.prog = ctx.program(vertex_shader=_VS, fragment_shader=_FS)
        self._attr = ctx.texture((self.width, self.height), 4, dtype="f4")
        self._mask = ctx.texture((self.width, self.height), 1, dtype="f4")
        self._depth = ctx.depth_renderbuffer((self.width, self.height))
        self.fbo = ctx.framebuffer(color_attachments=[self._attr, self._mask], depth_attachment=self._depth)

    def render(self, verts_px: np.ndarray, triangles: np.ndarray, attributes: np.ndarray, cull_back: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
        """Rasterise one mesh.

        Args:
            verts_px: (V, 3) float: x, y in pixels (0-based pixel centres, y down) and depth (larger = closer).
            triangles: (F, 3) int vertex indices.
            attributes: (V, C) float, C <= 4, interpolated linearly across each triangle.
            cull_back: skip triangles facing away from the camera (counter-clockwise = front, seen from +z).

        Returns:
            (H, W, C) float32 attributes of the closest surface per pixel (0 where empty) and (H, W) bool coverage.
        """
        import moderngl

        v = np.asarray(verts_px, np.float32)
        a = np.asarray(attributes, np.float32)
        c = a.shape[1]
        if c > 4:
            raise ValueError("at most 4 attributes")
        a4 = np.zeros((len(v), 4), np.float32)
        a4[:, :c] = a
        ctx = self.ctx
        vbo = ctx.buffer(np.hstack([v, a4]).astype(np.float32).tobytes())
        ibo = ctx.buffer(np.asarray(triangles, np.int32).tobytes())
        vao = ctx.vertex_array(self.prog, [(vbo, "3f 4f", "in_pos", "in_attr")], index_buffer=ibo)
        self.prog["size"].value = (float(self.width), float(self.height))
        self.prog["zrange"].value = (float(v[:, 2].min()), float(v[:, 2].max()))
        self.fbo.use()
        self.fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        ctx.enable(moderngl.DEPTH_TEST)
        if cull_back:
            ctx.enable(moderngl.CULL_FACE)
            ctx.front_face = "ccw"
            ctx.cull_face = "back"
        else:
            ctx.disable(moderngl.CULL_FACE)
        vao.render(moderngl.TRIANGLES)
        attr = np.frombuffer(self.fbo.read(components=4, attachment=0, dtype="f4"), np.float32)
        mask = np.frombuffer(self.fbo.read(components=1, attachment=1, dtype="f4"), np.float32)
        vao.release()
        vbo.release()
        ibo.release()
        attr = attr.reshape(self.height, self.width, 4)[::-1, :, :c].copy()
        mask = mask.reshape(self.height, self.width)[::-1] > 0.5
        return attr, mask

    def release(self) -> None:
        self.fbo.release()
        self._attr.release()
        self._mask.release()
        self._depth.release()
        self.prog.release()
