"""Helpers every REST module uses: the database handle and the error responses.

The dependencies are ``async``: FastAPI runs a plain ``def`` dependency in a worker thread,
which costs more than the attribute lookup it does."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings
from app.db import Database


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Db = Annotated[Database, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]
