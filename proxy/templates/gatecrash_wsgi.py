# The origin gatecrash starts as origin.kind gunicorn: a tiny WSGI app that reads the whole
# request body and answers 200 "ok\n". What is tested is gunicorn's connection handling (its
# worker class and --keep-alive), not this app.


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]
