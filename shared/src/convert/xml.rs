//! Streaming XML for the zip-based formats. Elements are seen by local name, so `w:p` reads alike
//! in the transitional and the Strict OOXML namespaces, whatever the prefix; entity references
//! arrive as text; an empty element is an open followed by a close.

use std::borrow::Cow;

use quick_xml::{
    Reader, XmlVersion,
    events::{BytesStart, Event},
};

use crate::domain::failure::{Failure, FailureCode};

pub enum Node<'e> {
    Open(Element<'e>),
    /// The local name of the element that closes.
    Close(&'e str),
    Text(&'e str),
}

pub struct Element<'e>(&'e BytesStart<'e>);

impl Element<'_> {
    pub fn name(&self) -> &str {
        self.0.local_name().into_inner()
    }

    /// An attribute's value by local name (`w:val` and `val` alike).
    pub fn attr(&self, local: &str) -> Option<String> {
        self.find_attr(|key| key.local_name().into_inner() == local)
    }

    /// A namespaced attribute's value by local name, for elements that also carry an
    /// unprefixed attribute of that name (`<p:sldId id="256" r:id="rId2"/>`).
    pub fn prefixed_attr(&self, local: &str) -> Option<String> {
        self.find_attr(|key| key.prefix().is_some() && key.local_name().into_inner() == local)
    }

    fn find_attr(&self, wanted: impl Fn(quick_xml::name::QName) -> bool) -> Option<String> {
        self.0
            .attributes()
            .flatten()
            .find(|a| wanted(a.key))
            .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
            .map(Cow::into_owned)
    }
}

/// Feeds the nodes of `xml` to `visit` in document order, leaving out the subtrees of elements
/// named in `skip`. `part` names the document in the failure for malformed XML.
pub fn walk(
    part: &str,
    xml: &str,
    skip: &[&str],
    mut visit: impl FnMut(Node<'_>),
) -> Result<(), Failure> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().expand_empty_elements = true;
    let malformed = |e: &dyn std::fmt::Display| {
        Failure::new(
            FailureCode::CorruptFile,
            format!("{part} is not well-formed XML: {e}"),
        )
    };
    // Depth inside a skipped subtree; 0 when reading.
    let mut skipping = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| malformed(&e))?;
        if skipping > 0 {
            match event {
                Event::Start(_) => skipping += 1,
                Event::End(_) => skipping -= 1,
                Event::Eof => return Ok(()),
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(start) => {
                if skip.contains(&start.local_name().into_inner()) {
                    skipping = 1;
                } else {
                    visit(Node::Open(Element(&start)));
                }
            }
            Event::End(end) => visit(Node::Close(end.local_name().into_inner())),
            Event::Text(text) => visit(Node::Text(&text.xml10_content())),
            Event::CData(data) => visit(Node::Text(&data.into_inner())),
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => {
                        quick_xml::escape::resolve_predefined_entity(&reference).map(str::to_owned)
                    }
                    Err(e) => return Err(malformed(&e)),
                };
                if let Some(text) = resolved {
                    visit(Node::Text(&text));
                }
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(xml: &str, skip: &[&str]) -> Result<String, Failure> {
        let mut out = String::new();
        walk("test.xml", xml, skip, |node| match node {
            Node::Open(e) => {
                out.push_str(&format!("<{}", e.name()));
                if let Some(v) = e.attr("val") {
                    out.push_str(&format!(" val={v}"));
                }
                out.push('>');
            }
            Node::Close(name) => out.push_str(&format!("</{name}>")),
            Node::Text(t) => out.push_str(t),
        })?;
        Ok(out)
    }

    #[test]
    fn local_names_entities_and_empty_elements() {
        let xml = r#"<?xml version="1.0"?><w:p xmlns:w="urn:x"><w:pStyle w:val="a&amp;b"/><w:t>1 &lt; 2 &#x263A; <![CDATA[<raw>]]></w:t></w:p>"#;
        assert_eq!(
            trace(xml, &[]).unwrap(),
            "<p><pStyle val=a&b></pStyle><t>1 < 2 ☺ <raw></t></p>"
        );
    }

    #[test]
    fn skipped_subtrees_are_left_out() {
        let xml = "<a><Choice><t>one</t></Choice><mc:Fallback><t>two</t><x/></mc:Fallback><t>three</t></a>";
        assert_eq!(
            trace(xml, &["Fallback"]).unwrap(),
            "<a><Choice><t>one</t></Choice><t>three</t></a>"
        );
    }

    #[test]
    fn malformed_xml_is_a_corrupt_file() {
        let failure = trace("<a><b></a>", &[]).unwrap_err();
        assert_eq!(failure.code, FailureCode::CorruptFile);
        assert!(failure.message.starts_with("test.xml"), "{failure}");
    }

    #[test]
    fn prefixed_attributes_are_told_apart() {
        let mut seen = None;
        walk("p.xml", r#"<p:sldId id="256" r:id="rId2"/>"#, &[], |node| {
            if let Node::Open(e) = node {
                seen = Some((e.attr("id"), e.prefixed_attr("id")));
            }
        })
        .unwrap();
        assert_eq!(
            seen,
            Some((Some("256".to_owned()), Some("rId2".to_owned())))
        );
    }
}
