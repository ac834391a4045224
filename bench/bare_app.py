"""The baseline for the gateway benchmark: a bare Flask endpoint, served the same way."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/ping")
def ping():
    return jsonify(status="ok")
