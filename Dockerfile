# syntax=docker/dockerfile:1
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_URL=sqlite:////data/lemonbot.db

RUN useradd --create-home --uid 10001 lemonbot \
    && mkdir /data && chown lemonbot /data
WORKDIR /app

# Dependencies first, so that code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir bot cogs && touch bot/__init__.py cogs/__init__.py \
    && pip install . && pip uninstall --yes lemonbot

# Source last.
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-deps .

USER lemonbot
VOLUME ["/data"]
# docker stop sends SIGTERM: the bot stops taking work and exits, leaving jobs resumable.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
