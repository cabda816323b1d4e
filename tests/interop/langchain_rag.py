#!/usr/bin/env python3
"""Interop test with a real instrumentation library: ``openinference-instrumentation-langchain``
traces a small LangChain RAG chain (retriever -> prompt -> chat model -> output parser),
exported over OTLP/HTTP protobuf to a running traceledger server. Everything runs offline:
the retriever is a tiny in-memory keyword retriever and the chat model is langchain-core's
``FakeListChatModel`` (with a model name, so the instrumentation records
``llm.model_name``); no network, no model weights.

Then the ledger is verified independently (signature, entry bytes, inclusion and
consistency proofs, see tlverify.py), every span the instrumentation produced is compared
with its entry (ids, times, attributes; content as commitments of the right length), and:

* the entries' kinds include ``retrieval``, ``generation`` and ``chain``;
* the generation entry's ``genai.request_model`` is the fake model's name (when the
  instrumentation records one, as it does in the pinned version);
* the retrieval entry's ``genai.retrieval.documents`` lists the retrieved documents' ids
  in order (when the instrumentation records them), each with a content commitment;
* no question, document text or answer text appears in clear in any entry.

Usage: langchain_rag.py --endpoint http://127.0.0.1:PORT --api-key KEY
Last stdout line: ``INTEROP_RESULT {json}`` (spans, trace_id, tree_size, origin, kinds, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import warnings
from collections import Counter

# Offline: never trace to LangSmith, whatever the environment says.
os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"

from langchain_core.callbacks import CallbackManagerForRetrieverRun  # noqa: E402
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnablePassthrough
from openinference.instrumentation.langchain import LangChainInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import tlverify
from tlverify import check

MODEL_NAME = "fake-rag-chat-1"

# OpenInference 0.1.80 calls the deprecated `message.text()` of langchain-core 1.x: noise.
warnings.filterwarnings("ignore", message=r"Calling \.text\(\) as a method is deprecated")


class KeywordRetriever(BaseRetriever):
    """An in-memory retriever: the `k` documents sharing the most words with the query."""

    documents: list[Document]
    k: int = 2

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        words = set(query.lower().split())
        ranked = sorted(self.documents, key=lambda d: -len(words & set(d.page_content.lower().split())))
        return ranked[: self.k]


class NamedFakeChatModel(FakeListChatModel):
    """langchain-core's fake chat model with a model name (LangChain reports it as
    `ls_model_name`, which OpenInference records as `llm.model_name`)."""

    model_name: str = MODEL_NAME


def run_chain(endpoint: str, api_key: str, nonce: str) -> dict:
    documents = [
        Document(id="kb-pump-warranty", page_content=f"doc-{nonce}-1 the x100 pump warranty lasts 24 months", metadata={"source": "kb/pumps.md"}),
        Document(id="kb-claims", page_content=f"doc-{nonce}-2 warranty claims need the pump serial number", metadata={"source": "kb/claims.md"}),
        Document(id="kb-shipping", page_content=f"doc-{nonce}-3 spare parts ship within 5 days", metadata={"source": "kb/shipping.md"}),
    ]
    question = f"question-{nonce}: how long is the x100 pump warranty"
    answer = f"answer-{nonce}: The X100 pump warranty lasts 24 months."

    provider = TracerProvider(resource=Resource.create({"service.name": "traceledger-interop-langchain"}))
    exporter = tlverify.RecordingSpanExporter(
        OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        retriever = KeywordRetriever(documents=documents, k=2)
        prompt = ChatPromptTemplate.from_messages(
            [("system", "Answer only from this context:\n{context}"), ("human", "{question}")]
        )
        model = NamedFakeChatModel(responses=[answer])

        def format_documents(docs: list[Document]) -> str:
            return "\n\n".join(d.page_content for d in docs)

        chain = {"context": retriever | format_documents, "question": RunnablePassthrough()} | prompt | model | StrOutputParser()
        output = chain.invoke(question)
    finally:
        instrumentor.uninstrument()
    check(output == answer, f"the chain answered {output!r}, want the fake model's {answer!r}")
    flushed = provider.force_flush(timeout_millis=60_000)
    provider.shutdown()
    check(flushed, "TracerProvider.force_flush() returned False (export did not finish)")
    exporter.check_success()
    spans = exporter.spans
    check(len(spans) >= 4, f"the instrumentation produced only {len(spans)} spans")
    trace_ids = {s.get_span_context().trace_id for s in spans}
    check(len(trace_ids) == 1, f"the chain produced {len(trace_ids)} traces, want 1")
    return {
        "trace_id": f"{trace_ids.pop():032x}",
        "spans": spans,
        "exports": len(exporter.results),
        "question": question,
        "retrieved": documents[:2],
        "secrets": [nonce, question, answer] + [d.page_content for d in documents],
    }


def openinference_kind(span) -> str | None:
    return (span.attributes or {}).get("openinference.span.kind")


def scenario(args: argparse.Namespace, client: tlverify.Client) -> dict:
    sent = run_chain(args.endpoint, args.api_key, secrets.token_hex(8))
    oi_kinds = Counter(openinference_kind(s) for s in sent["spans"])
    print(f"LangChain RAG chain traced by OpenInference: {len(sent['spans'])} spans {dict(oi_kinds)}, exported over OTLP/HTTP in {sent['exports']} request(s): SUCCESS")

    ledger = tlverify.verify_ledger(client)
    tlverify.print_ledger_summary(ledger)
    ours = tlverify.entries_of_trace(ledger, sent["trace_id"])
    check(len(ours) == len(sent["spans"]), f"{len(ours)} entries of trace {sent['trace_id']}, {len(sent['spans'])} spans exported")
    by_id = {r["entry"]["body"].get("span_id"): r for r in ours}
    check(len(by_id) == len(ours), "two entries with the same span id")
    entry_of = {}
    for span in sent["spans"]:
        span_id = f"{span.get_span_context().span_id:016x}"
        check(span_id in by_id, f"span {span.name!r} ({span_id}) is not in the ledger")
        tlverify.check_span_entry(by_id[span_id], span)
        entry_of[span_id] = by_id[span_id]
    tlverify.check_no_clear_text(ledger, sent["secrets"])
    commitments = tlverify.count_commitments([r["entry"]["body"] for r in ours])

    kinds = Counter(r["entry"]["body"].get("kind") for r in ours)
    for kind in ("retrieval", "generation", "chain"):
        check(kinds[kind] > 0, f"no {kind!r} entry among the kinds {dict(kinds)}")

    def entries_with(oi_kind: str) -> list[tuple[object, dict]]:
        return [(s, entry_of[f"{s.get_span_context().span_id:016x}"]) for s in sent["spans"] if openinference_kind(s) == oi_kind]

    # Generation: the fake model's name, when the instrumentation records one.
    generations = entries_with("LLM")
    check(len(generations) == 1, f"{len(generations)} LLM spans, want 1")
    llm_span, llm_entry = generations[0]
    check(llm_entry["entry"]["body"]["kind"] == "generation", f"the LLM span is {llm_entry['entry']['body']['kind']!r} in the ledger")
    recorded_model = (llm_span.attributes or {}).get("llm.model_name")
    genai = llm_entry["entry"]["body"]["genai"]
    if recorded_model is not None:
        check(recorded_model == MODEL_NAME, f"the instrumentation recorded llm.model_name {recorded_model!r}, the model is {MODEL_NAME!r}")
        check(genai.get("request_model") == MODEL_NAME, f"entry {llm_entry['index']}: genai.request_model {genai.get('request_model')!r}, want {MODEL_NAME!r}")
    check(tlverify.commitment_lens(llm_entry["entry"]["body"]), f"entry {llm_entry['index']}: the generation has no content commitment")

    # Retrieval: the documents' ids, in order, when the instrumentation records them.
    retrievals = entries_with("RETRIEVER")
    check(len(retrievals) == 1, f"{len(retrievals)} RETRIEVER spans, want 1")
    retriever_span, retriever_entry = retrievals[0]
    check(retriever_entry["entry"]["body"]["kind"] == "retrieval", f"the retriever span is {retriever_entry['entry']['body']['kind']!r} in the ledger")
    r_genai = retriever_entry["entry"]["body"]["genai"].get("retrieval") or {}
    attributes = retriever_span.attributes or {}
    output = json.loads(attributes["output.value"]) if isinstance(attributes.get("output.value"), str) else {}
    ids_recorded = [d.get("id") for d in output.get("documents", []) if isinstance(d, dict)]
    ids_recorded += [v for k, v in attributes.items() if k.startswith("retrieval.documents.") and k.endswith(".document.id")]
    want_ids = [d.id for d in sent["retrieved"]]
    documents = r_genai.get("documents") or []
    if ids_recorded:
        check([d.get("id") for d in documents] == want_ids, f"entry {retriever_entry['index']}: genai.retrieval.documents {documents!r}, want ids {want_ids}")
    contents = [attributes.get(f"retrieval.documents.{i}.document.content") for i in range(len(sent["retrieved"]))]
    if all(isinstance(c, str) for c in contents):
        check(len(documents) == len(contents), f"entry {retriever_entry['index']}: {len(documents)} documents, {len(contents)} retrieved")
        for document, text in zip(documents, contents):
            check(
                tlverify.is_commitment(document.get("content")) and document["content"]["len"] == len(text.encode()),
                f"entry {retriever_entry['index']}: document {document!r} has no commitment of its {len(text.encode())}-byte text",
            )
    metadata = [attributes.get(f"retrieval.documents.{i}.document.metadata") for i in range(len(sent["retrieved"]))]
    if all(isinstance(m, str) for m in metadata):
        # The documents' `source` metadata is the document uri (clear, like the id).
        want_uris = [json.loads(m).get("source") for m in metadata]
        check([d.get("uri") for d in documents] == want_uris, f"entry {retriever_entry['index']}: document uris {[d.get('uri') for d in documents]}, want {want_uris}")
    query = r_genai.get("query")
    check(
        tlverify.is_commitment(query) and query["len"] == len(sent["question"].encode()),
        f"entry {retriever_entry['index']}: genai.retrieval.query {query!r}, want a commitment of the question",
    )
    print(f"trace entries {sorted(r['index'] for r in ours)}: kinds {dict(kinds)}; span ids, times and attributes match; no content in the clear ({commitments} commitments)")
    print(f"generation: genai.request_model {genai.get('request_model')!r}; retrieval: documents {[d.get('id') for d in documents]}")
    return {
        "spans": len(sent["spans"]),
        "trace_id": sent["trace_id"],
        "tree_size": ledger["tree_size"],
        "origin": ledger["origin"],
        "kinds": dict(kinds),
        "request_model": genai.get("request_model"),
        "document_ids": [d.get("id") for d in documents],
    }


if __name__ == "__main__":
    sys.exit(tlverify.run(__doc__, scenario))
