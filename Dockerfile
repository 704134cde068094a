FROM python:3.11-slim
WORKDIR /srv
# The render endpoints draw with the agent's renderer: DejaVu Sans Mono for the ticket's text,
# Noto and Symbola for CJK, Arabic, Hebrew, Thai and emoji, FriBidi for right-to-left lines.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-noto-cjk \
        fonts-noto-core fonts-symbola libfribidi0 \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY bridge_agent ./bridge_agent
COPY migrations ./migrations
RUN pip install --no-cache-dir . && useradd --system printrelay
USER printrelay
EXPOSE 8000
CMD ["printrelay", "serve", "--host", "0.0.0.0", "--port", "8000"]
