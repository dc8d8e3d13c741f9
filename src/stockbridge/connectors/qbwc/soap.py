"""The SOAP 1.1 layer of the Web Connector's service (document/literal, namespace
http://developer.intuit.com/): reading a call, writing its answer or a fault, and the
WSDL. Hand-written on lxml: eight operations of strings and integers, so a SOAP
framework would add more than it saves (spyne's last release is from 2022); the tests
drive it with zeep, a real SOAP client, from this WSDL.

Parsing refuses DTDs and entities, never touches the network, and takes only a body the
endpoint already bounded in size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from lxml import etree

__all__ = [
    "NS",
    "OPERATIONS",
    "SoapCall",
    "SoapError",
    "answer",
    "fault",
    "parse_call",
    "wsdl",
]

NS = "http://developer.intuit.com/"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"

#: operation -> (its parameters in order, its result type: "string" | "int" | "array")
OPERATIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "serverVersion": ((), "string"),
    "clientVersion": (("strVersion",), "string"),
    "authenticate": (("strUserName", "strPassword"), "array"),
    "sendRequestXML": (
        (
            "ticket",
            "strHCPResponse",
            "strCompanyFileName",
            "qbXMLCountry",
            "qbXMLMajorVers",
            "qbXMLMinorVers",
        ),
        "string",
    ),
    "receiveResponseXML": (("ticket", "response", "hresult", "message"), "int"),
    "connectionError": (("ticket", "hresult", "message"), "string"),
    "getLastError": (("ticket",), "string"),
    "closeConnection": (("ticket",), "string"),
}
_INT_PARAMS = frozenset({"qbXMLMajorVers", "qbXMLMinorVers"})

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True, remove_comments=True
)


class SoapError(ValueError):
    """A call that is not one of the service's (answered with a SOAP Client fault)."""


@dataclass(frozen=True)
class SoapCall:
    operation: str
    params: dict[str, str]


def parse_call(body: bytes) -> SoapCall:
    """The operation and its string parameters (absent ones are ""). Raises SoapError."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapError(f"the body is not well-formed XML: {exc.msg}") from None
    if root.getroottree().docinfo.doctype:
        raise SoapError("a document type declaration is not allowed")
    if root.tag != f"{{{ENV}}}Envelope":
        raise SoapError("the body is not a SOAP 1.1 Envelope")
    body_el = root.find(f"{{{ENV}}}Body")
    if body_el is None:
        raise SoapError("the Envelope has no Body")
    calls = [child for child in body_el if isinstance(child.tag, str)]
    if len(calls) != 1:
        raise SoapError("the Body must hold exactly one call")
    call = calls[0]
    qname = etree.QName(call)
    if qname.namespace != NS or qname.localname not in OPERATIONS:
        raise SoapError(f"unknown operation {qname.text!r}")
    names, _result = OPERATIONS[qname.localname]
    params = {name: "" for name in names}
    for child in call:
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        if local not in params:
            raise SoapError(f"{qname.localname} has no parameter {local!r}")
        if len(child):
            raise SoapError(f"parameter {local!r} must be text")
        params[local] = child.text or ""
    for name in names:
        if name in _INT_PARAMS and params[name]:
            try:
                int(params[name])
            except ValueError:
                raise SoapError(f"parameter {name!r} must be an integer") from None
    return SoapCall(qname.localname, params)


def _envelope(inner: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{ENV}"><soap:Body>{inner}</soap:Body></soap:Envelope>'
    ).encode()


def answer(operation: str, result: str | int | Sequence[str]) -> bytes:
    """The response document of ``operation`` carrying ``result``."""
    _names, kind = OPERATIONS[operation]
    if kind == "array":
        assert not isinstance(result, (str, int))
        value = "".join(f"<string>{escape(item)}</string>" for item in result)
    else:
        value = escape(str(result))
    return _envelope(
        f'<{operation}Response xmlns="{NS}"><{operation}Result>{value}'
        f"</{operation}Result></{operation}Response>"
    )


def fault(message: str, *, client: bool = True) -> bytes:
    code = "soap:Client" if client else "soap:Server"
    return _envelope(
        f"<soap:Fault><faultcode>{code}</faultcode><faultstring>{escape(message)}"
        "</faultstring></soap:Fault>"
    )


def wsdl(location: str) -> str:
    """The service description the Web Connector (and zeep) read, served at ?wsdl."""
    elements: list[str] = []
    messages: list[str] = []
    port_ops: list[str] = []
    binding_ops: list[str] = []
    for op, (params, kind) in OPERATIONS.items():
        fields = "".join(
            f'<s:element minOccurs="{1 if p in _INT_PARAMS else 0}" maxOccurs="1" name="{p}" '
            f'type="s:{"int" if p in _INT_PARAMS else "string"}"/>'
            for p in params
        )
        result_type = {"string": "s:string", "int": "s:int", "array": "tns:ArrayOfString"}[kind]
        result_min = "1" if kind == "int" else "0"
        elements.append(
            f'<s:element name="{op}"><s:complexType><s:sequence>{fields}'
            f"</s:sequence></s:complexType></s:element>"
            f'<s:element name="{op}Response"><s:complexType><s:sequence>'
            f'<s:element minOccurs="{result_min}" maxOccurs="1" name="{op}Result" '
            f'type="{result_type}"/></s:sequence></s:complexType></s:element>'
        )
        messages.append(
            f'<wsdl:message name="{op}SoapIn"><wsdl:part name="parameters" element="tns:{op}"/>'
            f'</wsdl:message><wsdl:message name="{op}SoapOut">'
            f'<wsdl:part name="parameters" element="tns:{op}Response"/></wsdl:message>'
        )
        port_ops.append(
            f'<wsdl:operation name="{op}"><wsdl:input message="tns:{op}SoapIn"/>'
            f'<wsdl:output message="tns:{op}SoapOut"/></wsdl:operation>'
        )
        binding_ops.append(
            f'<wsdl:operation name="{op}"><soap:operation soapAction="{NS}{op}" '
            'style="document"/><wsdl:input><soap:body use="literal"/></wsdl:input>'
            '<wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<wsdl:definitions xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        f'xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:tns="{NS}" '
        f'targetNamespace="{NS}" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">'
        f'<wsdl:types><s:schema elementFormDefault="qualified" targetNamespace="{NS}">'
        + "".join(elements)
        + '<s:complexType name="ArrayOfString"><s:sequence><s:element minOccurs="0" '
        'maxOccurs="unbounded" name="string" nillable="true" type="s:string"/>'
        "</s:sequence></s:complexType></s:schema></wsdl:types>"
        + "".join(messages)
        + '<wsdl:portType name="QBWebConnectorSvcSoap">'
        + "".join(port_ops)
        + '</wsdl:portType><wsdl:binding name="QBWebConnectorSvcSoap" '
        'type="tns:QBWebConnectorSvcSoap"><soap:binding '
        'transport="http://schemas.xmlsoap.org/soap/http"/>'
        + "".join(binding_ops)
        + '</wsdl:binding><wsdl:service name="QBWebConnectorSvc">'
        '<wsdl:port name="QBWebConnectorSvcSoap" binding="tns:QBWebConnectorSvcSoap">'
        f'<soap:address location="{escape(location)}"/></wsdl:port></wsdl:service>'
        "</wsdl:definitions>"
    )
