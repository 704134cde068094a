FROM python:3.11-slim
WORKDIR /srv
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY bridge_agent ./bridge_agent
COPY migrations ./migrations
RUN pip install --no-cache-dir . && useradd --system printrelay
USER printrelay
EXPOSE 8000
CMD ["printrelay", "serve", "--host", "0.0.0.0", "--port", "8000"]
