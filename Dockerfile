FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ecr_emulator ./ecr_emulator
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 emulator

USER emulator
ENV ECR_EMULATOR_HOST=0.0.0.0 \
    ECR_EMULATOR_PORT=5000
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_emulator/health' % os.environ.get('ECR_EMULATOR_PORT', '5000'), timeout=2)"
CMD ["ecr-emulator"]
