"""Swagger UI's own files served by the API (from the swagger-ui-bundle package), so /api/docs works on a
machine or an intranet that cannot reach a CDN."""
from __future__ import annotations

from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/api/docs/assets/"

blp = Blueprint("api_docs_assets", __name__)


@blp.get(f"{ASSETS_URL}<path:filename>")
def asset(filename: str):
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)
